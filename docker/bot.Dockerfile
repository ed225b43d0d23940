# The bot: discord.py, the queue client and SQLite. No torch, no GPU: a small image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 10001 motionbot && mkdir /data && chown motionbot /data

COPY pyproject.toml README.md ./
COPY generation ./generation
COPY storage ./storage
COPY bot ./bot
RUN pip install --no-cache-dir .

USER 10001
ENV MOTIONBOT_DATABASE_PATH=/data/motionbot.db
VOLUME ["/data"]
CMD ["python", "-m", "bot"]

"""What pose-driven animation reads from a video: the person's pose and face in every frame.

ViTPose (`VitPoseForPoseEstimation` in transformers; usyd-community/vitpose-base-simple by default, the
row's `pose_weights`) finds the 17 COCO keypoints of the person in each frame. They are drawn as a skeleton
on black (limbs in the colours OpenPose uses, which Wan-Animate's pose videos follow) and give the face's
box (nose, eyes, ears), cut out of the frame for the face video. The person is taken to fill the frame (a
dance or a talking-head video); a video with several people drives the character by the most confident one.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw
from transformers import VitPoseForPoseEstimation, VitPoseImageProcessor

from generation.runtime import Runtime
from generation.weights import component, local_only

__all__ = ["LIMBS", "PoseReader"]

# COCO keypoint pairs drawn as limbs (0 nose, 1-2 eyes, 3-4 ears, 5-6 shoulders, 7-8 elbows, 9-10 wrists,
# 11-12 hips, 13-14 knees, 15-16 ankles) and the colour of each.
LIMBS = (
    ((5, 6), (255, 0, 0)),
    ((5, 7), (255, 85, 0)),
    ((7, 9), (255, 170, 0)),
    ((6, 8), (255, 255, 0)),
    ((8, 10), (170, 255, 0)),
    ((5, 11), (85, 255, 0)),
    ((11, 13), (0, 255, 0)),
    ((13, 15), (0, 255, 85)),
    ((6, 12), (0, 255, 170)),
    ((12, 14), (0, 255, 255)),
    ((14, 16), (0, 170, 255)),
    ((0, 1), (0, 85, 255)),
    ((0, 2), (0, 0, 255)),
    ((1, 3), (85, 0, 255)),
    ((2, 4), (170, 0, 255)),
)
_FACE = (0, 1, 2, 3, 4)
_MIN_SCORE = 0.3  # keypoints less sure than this are not drawn


class PoseReader:
    def __init__(self, model: str, source: str, runtime: Runtime):
        self.runtime = runtime
        with component(model, "pose estimator", source, "pose_weights"):
            self.processor = VitPoseImageProcessor.from_pretrained(source, local_files_only=local_only(source))
            estimator = VitPoseForPoseEstimation.from_pretrained(source, local_files_only=local_only(source))
        self.estimator = estimator.to(runtime.device).eval()

    def keypoints(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(F, 17, 2) pixel positions and (F, 17) scores of the person's keypoints in each frame."""
        pictures = [Image.fromarray(frame) for frame in frames]
        height, width = frames.shape[1:3]
        boxes = [[[0.0, 0.0, float(width), float(height)]] for _ in pictures]  # the person fills the frame
        inputs = self.processor(pictures, boxes=boxes, return_tensors="pt").to(self.runtime.device)
        with torch.no_grad():
            outputs = self.estimator(**inputs)
        found = self.processor.post_process_pose_estimation(outputs, boxes=boxes)
        points = np.stack([people[0]["keypoints"].cpu().numpy() for people in found])
        scores = np.stack([people[0]["scores"].cpu().numpy() for people in found])
        return points, scores

    def read(self, frames: np.ndarray, face_size: int) -> tuple[list[Image.Image], list[Image.Image]]:
        """The pose video (skeletons at the frames' size) and the face video (face_size squares)."""
        points, scores = self.keypoints(frames)
        height, width = frames.shape[1:3]
        poses = [_skeleton(p, s, (width, height)) for p, s in zip(points, scores, strict=True)]
        faces = [_face(frame, p, face_size) for frame, p in zip(frames, points, strict=True)]
        return poses, faces


def _skeleton(points: np.ndarray, scores: np.ndarray, size: tuple[int, int]) -> Image.Image:
    canvas = Image.new("RGB", size, (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    thickness = max(2, min(size) // 64)
    for (a, b), colour in LIMBS:
        if scores[a] >= _MIN_SCORE and scores[b] >= _MIN_SCORE:
            draw.line([tuple(points[a]), tuple(points[b])], fill=colour, width=thickness)
    for (x, y), score in zip(points, scores, strict=True):
        if score >= _MIN_SCORE:
            draw.ellipse([x - thickness, y - thickness, x + thickness, y + thickness], fill=(255, 255, 255))
    return canvas


def _face(frame: np.ndarray, points: np.ndarray, size: int) -> Image.Image:
    """The face's square (twice the spread of nose, eyes and ears, at least a sixth of the frame), resized."""
    height, width = frame.shape[:2]
    face = points[list(_FACE)]
    centre = face.mean(axis=0)
    side = max(float(np.ptp(face, axis=0).max()) * 2, min(width, height) / 6)
    left = int(np.clip(centre[0] - side / 2, 0, max(0, width - side)))
    top = int(np.clip(centre[1] - side / 2, 0, max(0, height - side)))
    box = (left, top, min(width, left + int(side)), min(height, top + int(side)))
    return Image.fromarray(frame).crop(box).resize((size, size), Image.Resampling.BICUBIC)

"""Per-view evidence from real images: the person, 33 body landmarks, 21 per hand, a mask.

``MediaPipeDetector`` runs on one image; ``detect_views`` keeps the same person in every view of
a calibrated capture; ``openpose`` reads OpenPose JSON as an independent reference. Conventions
(pixel coordinates, landmark orders, sides) are in ``engine.detect.types``.
"""

from engine.detect.mediapipe_detector import MediaPipeDetector
from engine.detect.multiview import detect_views, triangulate
from engine.detect.openpose import openpose_to_detection, read_openpose_folder
from engine.detect.types import BODY_LANDMARKS, HAND_LANDMARKS, Detection

__all__ = ["BODY_LANDMARKS", "HAND_LANDMARKS", "Detection", "MediaPipeDetector", "detect_views",
           "openpose_to_detection", "read_openpose_folder", "triangulate"]

"""Cameras (OpenCV convention), the Blender conversion, rays and epipolar geometry."""

from engine.geometry.blender_camera import BlenderCamera, blender_to_opencv, opencv_to_blender
from engine.geometry.camera import Cameras, check_cameras, pixel_rays, project, project_array, project_matrix
from engine.geometry.epipolar import epipolar_lines, fundamental_matrix, pairwise_fundamental, point_line_distance
from engine.geometry.rays import pixel_centers, plucker_rays

__all__ = ["BlenderCamera", "Cameras", "blender_to_opencv", "check_cameras", "epipolar_lines",
           "fundamental_matrix", "opencv_to_blender", "pairwise_fundamental", "pixel_centers", "pixel_rays",
           "plucker_rays", "point_line_distance", "project", "project_array", "project_matrix"]

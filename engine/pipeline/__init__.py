"""The reconstruction pipeline: capture, detections, proxies, fit, world frame (``Reconstructor``)."""

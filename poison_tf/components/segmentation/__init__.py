"""YOLOv8-seg instance segmentation: examples from YOLO / COCO sources, training,
Ultralytics-`val` evaluation, and the report. The clean-image study builds on these."""

"""Each source kind names the files of its fingerprint; the cache itself parses no format."""

from __future__ import annotations

from poison_tf.components.faces.face_example_gen import FaceExampleGenSpec
from poison_tf.components.segmentation.seg_example_gen import SegExampleGenSpec
from poison_tf.data.source_files import coco_files, source_files, yolo_files


def test_yolo_is_stamped_by_its_folder(tmp_path):
    (tmp_path / "data.yaml").write_text("names: [a]")
    assert yolo_files(str(tmp_path / "data.yaml")) == [str(tmp_path)]
    assert source_files(f"yolo:{tmp_path / 'data.yaml'}", {"yolo": yolo_files}) == [str(tmp_path)]


def test_coco_and_prefixed_paths():
    assert coco_files("a.json:imgs,b.json:val") == ["a.json", "imgs", "b.json", "val"]
    assert source_files("csv:poses.csv") == ["poses.csv"]
    assert source_files("synthetic") == ["synthetic"]


def test_generators_declare_their_kinds():
    seg = SegExampleGenSpec.PARAMETERS["source"].stamp_files
    assert seg("coco:a.json:imgs") == ["a.json", "imgs"]
    face = FaceExampleGenSpec.PARAMETERS["source"].stamp_files
    assert face("hackml:val=v.h5,test=t.h5") == ["v.h5", "t.h5"]

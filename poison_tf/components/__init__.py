"""The components of the studies (each = spec + executor), built on `poison_tf.dag`.

One folder per study (`headpose/`, `faces/`, `patch/`, `segmentation/`, `clean_image/`);
beside them the components and helpers every study shares: `poison_planner` (the BadNets
poison plan), `training` (what every trainer does around its Task) and `stages` (the
`poison-tf-<stage>` programs). A component's class docstring says what it does and why; its
`Args:` and `Outputs:` sections are generated from its spec (`poison_tf.dag.component_doc`).
"""

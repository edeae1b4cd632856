"""Using a trained model: the classifier of a workdir, `ferjax.predict` on photos and videos,
explanations (attention maps, Grad-CAM) and the portable export."""

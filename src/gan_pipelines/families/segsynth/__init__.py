"""segsynth: does GAN-made training data help a segmenter trained on few labelled pictures?

The experiment of the source review (a plant with about 100 labelled pictures of a new domain):
synthetic label maps pasted together from the labelled objects, turned into pictures by a label
map -> photo generator trained on the same pictures, used to pre-train a small U-Net that is then
fine-tuned on the real ones; measured against honest controls (more steps, augmentation,
copy-paste, real data) over paired seeds, with a verdict that follows a stated rule.
``kedro run --pipeline segsynth``; the stages are in :mod:`.pipeline`, the experiment in
:mod:`.experiment`.
"""

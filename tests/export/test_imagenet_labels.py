"""The label asset is TF-Slim's 1001-class order: background, then synsets by WordNet id."""

from __future__ import annotations

from inception_svm_export.imagenet_labels import imagenet_labels, imagenet_synsets

# Known entries of TF-Slim's imagenet labels (create_readable_names_for_imagenet_labels).
KNOWN = {
    0: "background",
    1: "tench, Tinca tinca",
    282: "tabby, tabby cat",
    283: "tiger cat",
    284: "Persian cat",
    285: "Siamese cat, Siamese",
    286: "Egyptian cat",
    1000: "toilet tissue, toilet paper, bathroom tissue",
}


def test_labels_follow_tf_slims_order_on_known_indices() -> None:
    labels = imagenet_labels()
    assert len(labels) == 1001
    assert {index: labels[index] for index in KNOWN} == KNOWN


def test_synsets_are_sorted_by_wordnet_id() -> None:
    synsets = imagenet_synsets()
    wnids = [wnid for wnid, _ in synsets]
    assert wnids == sorted(wnids) and len(set(wnids)) == 1000
    # Index in the 1001-class output = position among sorted synsets + 1 (background).
    assert synsets[282 - 1] == ("n02123045", "tabby, tabby cat")
    assert (wnids[0], wnids[-1]) == ("n01440764", "n15075141")

"""The per-image metrics tables keep sample names as written: a user's files 0001.jpg, 0002.jpg
are samples "0001", "0002", not the numbers 1, 2 (which matched no picture in the report)."""

from pathlib import Path

import pandas as pd
import yaml
from kedro_datasets.pandas import CSVDataset

CATALOG = Path(__file__).resolve().parents[2] / "conf" / "base" / "catalog.yml"


def test_per_image_table_reads_names_back_as_strings(tmp_path):
    entry = yaml.safe_load(CATALOG.read_text())["{family}.test_metrics_per_image"]
    dataset = CSVDataset(filepath=str(tmp_path / "per_image.csv"), load_args=entry.get("load_args"),
                         save_args=entry.get("save_args"))
    dataset.save(pd.DataFrame({"name": ["0001", "0010", "scene_00002"], "hidden_l1": [0.1, 0.2, 0.3]}))
    loaded = dataset.load()
    assert loaded["name"].tolist() == ["0001", "0010", "scene_00002"]
    assert loaded["hidden_l1"].tolist() == [0.1, 0.2, 0.3]

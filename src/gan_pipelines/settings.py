"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Deep-merge parameters so an environment (conf/paper) lists only what it changes.
    "merge_strategy": {"parameters": "soft"},
}

from gan_pipelines.hooks import OtherNodeHooks, ParameterCheckHooks, RunSummaryHooks  # noqa: E402 (kept beside the setting it fills)

# Before any node: the parameter pairs that span two stages, and nothing saved on node K > 0 of a
# training across machines. At the end of every run: where its outputs went and which optional
# parts were off.
HOOKS = (ParameterCheckHooks(), OtherNodeHooks(), RunSummaryHooks())

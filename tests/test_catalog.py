from pathlib import Path

import pytest

from shared.catalog import CatalogError, load_catalog, parse_catalog


def test_shipped_catalog_serves_the_local_model_and_lists_remote_ones() -> None:
    catalog = load_catalog()
    gemma = catalog.get("gemma3-270m")
    assert gemma is not None and gemma.backend == "local" and gemma.pool == "cpu"
    assert {catalog.get(name).backend for name in ("phi", "llama2", "mistral")} == {"ollama"}  # type: ignore[union-attr]
    assert catalog.get("gpt-4o-mini").backend == "openai"  # type: ignore[union-attr]
    assert all(spec.backend != "echo" for spec in catalog.models.values())
    assert catalog.pool_names() == ["cpu", "gpu0", "remote"]
    assert catalog.pool("remote").concurrency == 16


def test_unknown_backend_is_refused_with_the_entry_named() -> None:
    with pytest.raises(CatalogError, match=r"models\.bad: backend"):
        parse_catalog(
            {
                "models": {
                    "bad": {
                        "backend": "magic",
                        "upstream": "x",
                        "pool": "cpu",
                        "max_tokens": 1,
                        "timeout_s": 1,
                    }
                }
            }
        )


def test_missing_fields_and_bad_pool_names_are_refused() -> None:
    with pytest.raises(CatalogError, match="max_tokens"):
        parse_catalog({"models": {"m": {"backend": "echo", "upstream": "x", "pool": "cpu", "timeout_s": 1}}})
    with pytest.raises(CatalogError, match="pool"):
        parse_catalog(
            {
                "models": {
                    "m": {
                        "backend": "echo",
                        "upstream": "x",
                        "pool": "GPU 0",
                        "max_tokens": 1,
                        "timeout_s": 1,
                    }
                }
            }
        )
    with pytest.raises(CatalogError, match="at least one"):
        parse_catalog({})


def test_unreadable_catalog_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[models.x\n")
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(broken)

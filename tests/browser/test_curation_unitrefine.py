"""UnitRefine on the Curation page in Chromium: the operator's model labels the demo beside bombcell."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_curation_page import READY

pytestmark = pytest.mark.browser

MODEL = "good_mua_model"


@pytest.fixture(scope="module")
def workspace_with_model(tmp_path_factory) -> Path:
    """A workspace whose demo is built and whose ``unitrefine`` folder holds a model trained on the demo's
    bombcell labels (once per module: the demo and the training take about 30 s)."""
    from engines.curation import label_units, open_analyzer
    from tests.support.shared_analyzers import seed_demo
    from tests.support.unitrefine_models import train_model_folder

    workspace = tmp_path_factory.mktemp("unitrefine-ws")
    warnings.filterwarnings("ignore")
    analyzer, _ = open_analyzer(seed_demo(workspace))
    bombcell = {lab.unit_id: lab.label for lab in label_units(analyzer, "bombcell")}
    labels = ["good" if bombcell[u] == "good" else "mua" for u in analyzer.unit_ids]
    train_model_folder(workspace / "unitrefine" / MODEL, analyzer, labels)
    return workspace


def _units_tab(page: Page, url: str) -> None:
    page.goto(url + "?page=curation")
    expect(page.get_by_text(READY).first).to_be_visible(timeout=240_000)
    page.locator(".bk-tab", has_text="Units & labels").click()


def test_the_operator_s_model_labels_the_demo_in_a_column_beside_bombcell(
    page: Page, workspace_with_model: Path
):
    from tests.browser.conftest import served_app

    models = workspace_with_model / "unitrefine"
    with served_app(workspace_with_model, "--unitrefine-models", str(models)) as (url, _port):
        _units_tab(page, url)
        expect(page.get_by_text(re.compile(rf"{MODEL} \(good/mua\): classes good, mua")).first).to_be_visible(
            timeout=60_000
        )
        page.get_by_label("Labeler").select_option("bombcell")
        page.get_by_role("button", name="Label all units").click()
        expect(page.get_by_text(re.compile(r"^\d+ units labelled\.$")).first).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Label with UnitRefine").click()
        done = re.compile(rf"21 units labelled by UnitRefine model {MODEL}\. Agreement with bombcell: \d+%")
        expect(page.get_by_text(done).first).to_be_visible(timeout=120_000)
        headers = page.locator(".tabulator-col-title")
        expect(headers.filter(has_text=re.compile(rf"^{MODEL}$"))).to_have_count(1)
        expect(headers.filter(has_text=re.compile(rf"^{MODEL} p$"))).to_have_count(1)
        expect(headers.filter(has_text=re.compile(r"^bombcell$"))).to_have_count(1)
        first_row = page.locator(".tabulator-row").first
        expect(first_row).to_contain_text(re.compile(r"(good|mua)\s*0\.\d+|(good|mua)\s*1"))
        if os.environ.get("NEURODECK_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["NEURODECK_SCREENSHOTS"], "unitrefine_tab.png"))
        page.reload()  # the labels are kept in the workspace: a new session shows the column again
        _units_tab(page, url)
        expect(headers.filter(has_text=re.compile(rf"^{MODEL}$"))).to_have_count(1, timeout=30_000)


def test_without_a_models_folder_the_tab_offers_no_unitrefine(page: Page, app_url: str):
    _units_tab(page, app_url)
    expect(page.get_by_role("button", name="Label all units")).to_be_visible()
    expect(page.get_by_role("button", name="Label with UnitRefine")).to_have_count(0)

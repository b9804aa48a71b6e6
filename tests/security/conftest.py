"""The attack tests use the same served app and headless Chromium as the browser tests."""

from tests.browser.conftest import (  # noqa: F401  (fixtures and the failure report hook, shared)
    app_url,
    browser,
    chromium_path,
    page,
    playwright_driver,
    pytest_runtest_makereport,
    webgl_browser,
    webgl_page,
)

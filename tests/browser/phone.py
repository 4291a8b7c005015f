"""How the browser tests and bench/bench_budget.py drive Debian's Chromium as a phone: one definition for both."""

CHROMIUM = "/usr/bin/chromium"
#: without the background-networking flags Chromium floods the closed network with refused connections
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36"
    ),
    "locale": "en-GB",
    "service_workers": "block",  # the walk's own behaviour, without the offline shell's worker in between
}

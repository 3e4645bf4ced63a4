import subprocess
import sys
from pathlib import Path

from data_sources import broken_modules, registry

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {"demo", "bmkg-quake", "bmkg-weather", "cap", "petabencana", "water-level", "open311", "emergency-calls",
            "waze", "datex2", "cctv", "gtfs-rt", "ais", "pihps", "panel-harga"}


def test_every_adapter_imports_and_registers():
    assert broken_modules() == {}
    assert EXPECTED <= set(registry())


def test_every_adapter_has_a_config_schema_with_defaults():
    for name, cls in registry().items():
        config = cls.Config(adapter=name)
        assert config.interval >= 1 and config.adapter == name
        assert cls.kinds and cls.description, name


def test_cli_lists_adapters_and_parses_the_bmkg_sample(samples):
    out = subprocess.run([sys.executable, "-m", "damamaya.cli", "adapters"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and all(name in out.stdout for name in EXPECTED)
    parsed = subprocess.run([sys.executable, "-m", "damamaya.cli", "parse", "bmkg-quake",
                             str(samples / "earthquakes/bmkg_autogempa_20211005.json")],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert parsed.returncode == 0
    lines = parsed.stdout.strip().splitlines()
    assert len(lines) == 1
    import json

    quake = json.loads(lines[0])
    assert quake["details"]["magnitude"] == 4.5 and (quake["lat"], quake["lon"]) == (-8.15, 118.1)
    assert "1 records, 0 rejects" in parsed.stderr


def test_cli_parse_exits_non_zero_without_records(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"<html>502</html>")
    out = subprocess.run([sys.executable, "-m", "damamaya.cli", "parse", "bmkg-quake", str(bad)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 1 and out.stdout == "" and "HTML" in out.stderr

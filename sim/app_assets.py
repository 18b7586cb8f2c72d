"""The interactive page's front-end files, fetched from the npm registry into Solara's asset cache.

Solara's page loads its JavaScript and CSS (the Vuetify app, require.js, Font Awesome) through its
own server, which serves them from a cache folder and otherwise downloads them from a public CDN.
On a machine that reaches package registries but not that CDN, the page would stay on "Loading
resources". ``uv run python -m sim.app_assets`` fills the cache from the npm registry instead (with
``npm pack``), once; the page then works offline. The packages and versions are read from the
installed Solara, so they follow Solara upgrades.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: ``{{cdn}}/name@version/`` in Solara's page template, ``${this.getCdn()}/name@version/`` in its widgets.
_CDN_REF = re.compile(r"(?:\{\{\s*cdn\s*\}\}|\$\{this\.getCdn\(\)\})/((?:@[\w.-]+/)?[\w.-]+@\d+\.\d+\.\d+[\w.+-]*)/")
_APPS = ("@widgetti/solara-vuetify3-app@", "@widgetti/solara-vuetify-app@")


def cache_dir() -> Path:
    """The folder Solara's server serves ``/_solara/cdn/`` from (``SOLARA_ASSETS_PROXY_CACHE_DIR``)."""
    import solara.server.settings

    return Path(solara.server.settings.assets.proxy_cache_dir)


def required_packages() -> list[str]:
    """The npm packages (``name@version``) the installed Solara's page loads from its CDN.

    Read from Solara's page template (the Vuetify app of the installed Vue major version, require.js
    and, when enabled, Font Awesome) and from the draggable grid that Mesa's SolaraViz lays its
    plots out in.
    """
    import solara
    import solara.server.settings
    from solara.server import server

    template = Path(server.__file__).parent / "templates" / "solara.html.j2"
    grid = Path(solara.__file__).parent / "widgets" / "vue" / ("gridlayout_v3.vue" if server.vue3 else "gridlayout.vue")
    found = {name for source in (template, grid) for name in _CDN_REF.findall(source.read_text(encoding="utf-8"))}
    other_app = _APPS[1] if server.vue3 else _APPS[0]
    packages = {name for name in found if not name.startswith(other_app)}
    assets = solara.server.settings.assets
    if assets.fontawesome_enabled:
        packages.add(assets.fontawesome_path.strip("/").split("/")[0])
    return sorted(packages)


def is_cached(package: str, folder: Path | None = None) -> bool:
    """Whether ``package`` (``name@version``) is unpacked in the cache (its package.json is there)."""
    return ((folder or cache_dir()) / package / "package.json").is_file()


def missing_packages(folder: Path | None = None) -> list[str]:
    """Required packages not yet in the cache."""
    return [name for name in required_packages() if not is_cached(name, folder)]


def fetch(package: str, folder: Path, npm: str = "npm") -> Path:
    """Download ``package`` with ``npm pack`` and unpack it to ``folder/package``, replacing what was there.

    The package is unpacked beside its final place and then renamed, so a stopped fetch never
    leaves a half-filled folder that would pass as cached.

    Returns:
        The package's folder.
    """
    target = folder / package
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        work = Path(tmp)
        done = subprocess.run(
            [npm, "pack", package, "--silent", "--pack-destination", str(work)],
            check=True,
            capture_output=True,
            text=True,
        )
        tarball = work / done.stdout.strip().splitlines()[-1]
        unpacked = work / "unpacked"
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="data")
        if target.exists():
            shutil.rmtree(target)
        (unpacked / "package").rename(target)
    return target


def ensure(folder: Path | None = None, npm: str | None = None) -> list[str]:
    """Fetch every required package missing from the cache.

    Args:
        folder: the cache folder (Solara's own by default).
        npm: the npm executable (found on PATH by default).

    Returns:
        The packages fetched (empty when all were cached).

    Raises:
        FileNotFoundError: a package is missing and npm is not installed.
    """
    folder = folder or cache_dir()
    missing = missing_packages(folder)
    if not missing:
        return []
    npm = npm or shutil.which("npm")
    if npm is None:
        raise FileNotFoundError(f"npm is needed to fetch {', '.join(missing)} (install Node.js and npm)")
    for package in missing:
        fetch(package, folder, npm)
    return missing


def main(argv: list[str] | None = None) -> int:
    """Command line: fetch the page's missing front-end packages, or only list them with ``--check``."""
    parser = argparse.ArgumentParser(prog="python -m sim.app_assets", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report missing packages (exit 1 if any)")
    args = parser.parse_args(argv)
    folder = cache_dir()
    if args.check:
        missing = missing_packages(folder)
        for name in missing:
            print(f"missing: {name}")
        return 1 if missing else 0
    try:
        fetched = ensure(folder)
    except (FileNotFoundError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None) or error
        print(f"could not fetch the page's front-end files: {detail}", file=sys.stderr)
        return 1
    print(f"{folder}: " + (f"fetched {', '.join(fetched)}" if fetched else "all front-end files present"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

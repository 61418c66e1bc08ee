#!/usr/bin/env python3
"""html_check.py -- does the sweep's HTML report show its matrix?  Rendered by headless Chromium.

    html_check.py REPORT.html REPORT.json [SCREENSHOT.png]

1. The page is self-contained: no script, no stylesheet or image or font to fetch, every link
   inside the page.
2. Chromium renders it (headless, no network, its own profile) to a PNG, decoded here with the
   standard library.
3. Every matrix cell is a box of exactly 150 x 30 CSS pixels in a colour of its own (the report's
   CSS); the boxes found in the screenshot are put back in rows and columns, and the grid must be
   exactly the JSON report's matrix: a row for the steady state, a row per cell, a column per
   endpoint, each box the colour of its result.
4. The overview timeline and the first cell's timeline (its fault window) are drawn.

Exit 0 when all of that holds, 1 with the differences otherwise.  check() is also imported by
the tests, which feed it broken pages to see it fail.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CELL_W, CELL_H = 150, 30

# the report's CSS (runner/report_html.c)
COLORS = {
    "ok": (0x2e, 0x7d, 0x32),
    "slow": (0xf9, 0xa8, 0x25),
    "error": (0xc6, 0x28, 0x28),
    "hang": (0x6a, 0x1b, 0x9a),
    "norecover": (0x11, 0x11, 0x11),
    "notrun": (0x9e, 0x9e, 0x9e),
    "na": (0xe8, 0xe8, 0xe8),
    "base": (0xc8, 0xe6, 0xc9),
}
# the SVG's fills
TIMELINE_FILLS = [(0x43, 0xa0, 0x47), (0xfb, 0xc0, 0x2d), (0xe5, 0x39, 0x35), (0x8e, 0x24, 0xaa),
                  (0x21, 0x21, 0x21), (0x9e, 0x9e, 0x9e)]
FAULT_BAND = (0xff, 0xcd, 0xd2)


def expected_class(text):
    if text == "ok":
        return "ok"
    if text == "slow":
        return "slow"
    if text.startswith("error"):
        return "error"
    if text == "hang":
        return "hang"
    if text == "did not recover":
        return "norecover"
    if text == "not run":
        return "notrun"
    if text == "n/a":
        return "na"
    raise ValueError("unknown matrix value %r" % text)


def read_png(path):
    """(width, height, bytes per pixel, rows as bytes) of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s is not a PNG" % path)
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if typ == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat.append(body)
        elif typ == b"IEND":
            break
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or interlace or ctype not in (2, 6):
        raise ValueError("unsupported PNG (depth %d, colour type %d, interlace %d)"
                         % (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def runs(row, bpp, color, length):
    """x of each run of exactly `length` pixels of `color` in a row (bytes)."""
    px = bytes(color) + (b"\xff" if bpp == 4 else b"")
    pat = re.compile(b"(?:" + re.escape(px) + b")+")
    out = []
    for m in pat.finditer(row):
        s, e = m.start(), m.end()
        s += (-s) % bpp          # a match may start inside a pixel
        n = (e - s) // bpp
        if n == length:
            out.append(s // bpp)
    return out


def pixel(img, x, y):
    w, h, bpp, rows = img
    if not (0 <= x < w and 0 <= y < h):
        return None
    return tuple(rows[y][x * bpp:x * bpp + 3])


def find_cells(img):
    """Boxes of exactly CELL_W x CELL_H in a matrix colour: [(y, x, class)].  A box has full
    rows of its colour at its top and bottom, and its left edge (padding, never text) is that
    colour for exactly CELL_H rows."""
    w, h, bpp, rows = img
    found = []
    for cls, color in COLORS.items():
        full = [set(runs(rows[y], bpp, color, CELL_W)) for y in range(h)]
        for y in range(h - CELL_H + 1):
            for x in full[y]:
                if pixel(img, x, y - 1) == color or pixel(img, x, y + CELL_H) == color:
                    continue
                if x not in full[y + CELL_H - 1]:
                    continue
                if all(pixel(img, x, yy) == color for yy in range(y, y + CELL_H)):
                    found.append((y, x, cls))
    return sorted(found)


def grid(cells):
    """Rows of [(x, class)], by y then x; and the x positions of each row."""
    rows = {}
    for y, x, cls in cells:
        rows.setdefault(y, []).append((x, cls))
    return [sorted(rows[y]) for y in sorted(rows)]


def count_color(img, color, limit=1):
    w, h, bpp, rows = img
    px = bytes(color) + (b"\xff" if bpp == 4 else b"")
    n = 0
    for r in rows:
        i = r.find(px)
        while i >= 0:
            if i % bpp == 0:
                n += 1
                if n >= limit:
                    return n
            i = r.find(px, i + 1)
    return n


def self_contained(html):
    problems = []
    low = html.lower()
    for bad in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(",
                "@font-face", " src="):
        if bad in low:
            problems.append("the page has %r" % bad)
    for m in re.finditer(r'href="([^"]*)"', html):
        if not m.group(1).startswith("#"):
            problems.append("a link leaves the page: %s" % m.group(1))
    return problems


def screenshot(html_path, png, width, height):
    profile = tempfile.mkdtemp(prefix="chaos-chromium.")
    try:
        p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--disable-component-update",
                            "--disable-sync", "--no-first-run", "--hide-scrollbars",
                            "--force-device-scale-factor=1", "--user-data-dir=" + profile,
                            "--screenshot=" + png, "--window-size=%d,%d" % (width, height),
                            "file://" + os.path.abspath(html_path)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if not os.path.exists(png):
            raise RuntimeError("chromium wrote no screenshot (exit %d): %s"
                               % (p.returncode, p.stderr.decode(errors="replace")[-800:]))
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def check(html_path, report, png=None):
    """A list of problems (empty: the page shows the report's matrix)."""
    html = open(html_path, encoding="utf-8").read()
    problems = self_contained(html)
    eps = [e["name"] for e in report["endpoints"]]
    want = []
    if report["baseline"]:
        want.append(["base"] * len(eps))
    for row in report["matrix"]:
        want.append([expected_class(row["endpoints"][e]) for e in eps])
    height = 260 + 40 * len(want) + 700
    own = png is None
    if own:
        fd, png = tempfile.mkstemp(suffix=".png", prefix="chaos-sweep-")
        os.close(fd)
        os.unlink(png)
    try:
        screenshot(html_path, png, 80 + 200 + 2 * 140 + (CELL_W + 4) * len(eps), height)
        img = read_png(png)
    finally:
        if own and os.path.exists(png):
            os.unlink(png)
    got = grid(find_cells(img))
    if len(got) != len(want):
        problems.append("the screenshot shows %d matrix rows, the report has %d"
                        % (len(got), len(want)))
    xs = [x for x, _ in got[0]] if got else []
    for i, (g, w) in enumerate(zip(got, want)):
        if [x for x, _ in g] != xs:
            problems.append("row %d is not aligned with the first: %s vs %s"
                            % (i, [x for x, _ in g], xs))
        classes = [c for _, c in g]
        if classes != w:
            label = "steady state" if report["baseline"] and i == 0 else "%s: %s" % (
                report["matrix"][i - (1 if report["baseline"] else 0)]["dependency"],
                report["matrix"][i - (1 if report["baseline"] else 0)]["fault"])
            problems.append("row %d (%s): the screenshot shows %s, the report says %s"
                            % (i, label, classes, w))
    if not any(count_color(img, c) for c in TIMELINE_FILLS):
        problems.append("no timeline bar in the screenshot")
    if any(c["fault_on"] is not None for c in report["cells"]) and not count_color(img, FAULT_BAND):
        problems.append("no fault window drawn in the first timelines")
    return problems


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    report = json.load(open(sys.argv[2]))
    problems = check(sys.argv[1], report, sys.argv[3] if len(sys.argv) == 4 else None)
    for p in problems:
        print("html_check: " + p)
    if not problems:
        print("html_check: the screenshot shows the %d x %d matrix"
              % (len(report["matrix"]) + (1 if report["baseline"] else 0),
                 len(report["endpoints"])))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

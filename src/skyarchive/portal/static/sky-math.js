// The sky view's maths, apart from any drawing: the orthographic (SIN) projection about the
// view's centre and its inverse, great-circle and small-circle sampling, HEALPix NESTED tiles
// (face coordinates to RA/Dec, tiles in view) and angle texts. Angles are degrees; every
// position goes through unit vectors, so RA = 0 and the poles need no special case.
// tests/e2e/test_sky_view_browser.py checks these against astropy and cdshealpix.

const RAD = Math.PI / 180;
export const MAX_FOV = 2 / RAD; // the whole visible hemisphere: the SIN plane's diameter

export function toVector(ra, dec) {
  const a = ra * RAD, d = dec * RAD;
  return [Math.cos(d) * Math.cos(a), Math.cos(d) * Math.sin(a), Math.sin(d)];
}

export function fromVector([x, y, z]) {
  const ra = Math.atan2(y, x) / RAD;
  return [(ra + 360) % 360, Math.atan2(z, Math.hypot(x, y)) / RAD];
}

/** Angular distance in degrees (haversine: exact for small angles too). */
export function separation(ra1, dec1, ra2, dec2) {
  const a = Math.sin((dec2 - dec1) * RAD / 2) ** 2
    + Math.cos(dec1 * RAD) * Math.cos(dec2 * RAD) * Math.sin((ra2 - ra1) * RAD / 2) ** 2;
  return 2 * Math.asin(Math.min(1, Math.sqrt(a))) / RAD;
}

/** Orthographic projection about (ra0, dec0): plane offsets in degrees (x east, y north), or
 * null on the far hemisphere. Near the centre it is the gnomonic one to within (angle)²/2. */
export function project(ra, dec, ra0, dec0) {
  const d = dec * RAD, d0 = dec0 * RAD, da = (ra - ra0) * RAD;
  const cosc = Math.sin(d0) * Math.sin(d) + Math.cos(d0) * Math.cos(d) * Math.cos(da);
  if (cosc < 0) return null;
  return [Math.cos(d) * Math.sin(da) / RAD,
    (Math.cos(d0) * Math.sin(d) - Math.sin(d0) * Math.cos(d) * Math.cos(da)) / RAD];
}

/** The inverse of ``project``: the (ra, dec) at plane offsets (degrees), or null off the disc. */
export function unproject(x, y, ra0, dec0) {
  const px = x * RAD, py = y * RAD, rho = Math.hypot(px, py);
  if (rho > 1) return null;
  if (rho === 0) return [((ra0 % 360) + 360) % 360, dec0];
  const c = Math.asin(rho), d0 = dec0 * RAD;
  const dec = Math.asin(Math.cos(c) * Math.sin(d0) + py * Math.sin(c) * Math.cos(d0) / rho);
  const ra = ra0 * RAD + Math.atan2(px * Math.sin(c), rho * Math.cos(d0) * Math.cos(c) - py * Math.sin(d0) * Math.sin(c));
  return [(((ra / RAD) % 360) + 360) % 360, dec / RAD];
}

/** Points along the great circle from a to b ([ra, dec] each), ``steps`` segments. */
export function greatCircle(a, b, steps) {
  const u = toVector(...a), v = toVector(...b);
  const angle = Math.acos(Math.max(-1, Math.min(1, u[0] * v[0] + u[1] * v[1] + u[2] * v[2])));
  if (angle < 1e-12 || steps <= 1) return [a, b];
  const points = [];
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    const s = Math.sin((1 - t) * angle) / Math.sin(angle), r = Math.sin(t * angle) / Math.sin(angle);
    points.push(fromVector([s * u[0] + r * v[0], s * u[1] + r * v[1], s * u[2] + r * v[2]]));
  }
  return points;
}

/** ``count`` points of the small circle of radius ``r`` degrees about (ra, dec). */
export function smallCircle(ra, dec, r, count = 72) {
  const centre = toVector(ra, dec);
  const east = [-Math.sin(ra * RAD), Math.cos(ra * RAD), 0];
  const north = [-Math.sin(dec * RAD) * Math.cos(ra * RAD), -Math.sin(dec * RAD) * Math.sin(ra * RAD), Math.cos(dec * RAD)];
  const points = [];
  for (let i = 0; i < count; i++) {
    const t = 2 * Math.PI * i / count, c = Math.cos(r * RAD), s = Math.sin(r * RAD);
    points.push(fromVector([0, 1, 2].map((k) => c * centre[k] + s * (Math.cos(t) * north[k] + Math.sin(t) * east[k]))));
  }
  return points;
}

// HEALPix NESTED (Górski et al. 2005): face of a base pixel, the ring and longitude offsets of
// its southern corner, as the HEALPix library's xyf2loc defines them.
const JRLL = [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4];
const JPLL = [1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7];

/** (ra, dec) of the point at face coordinates (x, y) in [0, 1]² of base face ``face``. */
export function faceToSky(face, x, y) {
  const jr = JRLL[face] - x - y;
  let nr, z;
  if (jr < 1) { nr = jr; z = 1 - nr * nr / 3; }
  else if (jr > 3) { nr = 4 - jr; z = nr * nr / 3 - 1; }
  else { nr = 1; z = (2 - jr) * 2 / 3; }
  let tmp = JPLL[face] * nr + x - y;
  if (tmp < 0) tmp += 8;
  if (tmp >= 8) tmp -= 8;
  const phi = nr < 1e-15 ? 0 : (Math.PI / 4) * tmp / nr;
  return [phi / RAD, Math.asin(Math.max(-1, Math.min(1, z))) / RAD];
}

/** Face and face coordinates (ix, iy integers at ``order``) of NESTED pixel ``npix``. Plain
 * arithmetic, not bit operators, which JavaScript limits to 32 bits. */
export function tileXY(order, npix) {
  const perFace = 4 ** order;
  const face = Math.floor(npix / perFace);
  let rest = npix - face * perFace, ix = 0, iy = 0, bit = 1;
  while (rest > 0) {
    const pair = rest % 4;
    if (pair & 1) ix += bit;
    if (pair & 2) iy += bit;
    rest = Math.floor(rest / 4);
    bit *= 2;
  }
  return { face, ix, iy };
}

/** (ra, dec) of the point (u, v) in [0, 1]² of a tile: u along its image rows (HEALPix ix),
 * v along its columns (iy), as HiPS tiles are laid out. */
export function tilePoint(order, npix, u, v) {
  const { face, ix, iy } = tileXY(order, npix), nside = 2 ** order;
  return faceToSky(face, (ix + u) / nside, (iy + v) / nside);
}

/** Mean side of a HEALPix cell of ``depth``, degrees. */
export function cellSize(depth) {
  return Math.sqrt(4 * Math.PI / (12 * 4 ** depth)) / RAD;
}

/** Tiles of ``order`` whose cells may show in the circle of ``radius`` degrees about (ra, dec):
 * a descent from the 12 base tiles, keeping the children whose bounding circle meets it. */
export function tilesInView(order, ra, dec, radius, limit = 400) {
  let current = Array.from({ length: 12 }, (_, i) => i);
  for (let k = 0; k <= order; k++) {
    const kept = current.filter((npix) => {
      const [cra, cdec] = tilePoint(k, npix, 0.5, 0.5);
      const reach = Math.max(...[[0, 0], [0, 1], [1, 0], [1, 1]]
        .map(([u, v]) => separation(cra, cdec, ...tilePoint(k, npix, u, v))));
      return separation(cra, cdec, ra, dec) <= radius + reach * 1.05;
    });
    if (k === order || kept.length > limit) return kept;
    current = kept.flatMap((npix) => [0, 1, 2, 3].map((q) => npix * 4 + q));
  }
  return current;
}

export function angleText(deg) {
  if (deg >= 1) return `${+deg.toFixed(2)}°`;
  if (deg >= 1 / 60) return `${+(deg * 60).toFixed(1)}′`;
  return `${+(deg * 3600).toFixed(1)}″`;
}

/** RA as hh:mm:ss.ss (``digits`` decimals of seconds) and Dec as ±dd:mm:ss.s (one fewer). */
export function sexagesimal(ra, dec, digits = 2) {
  const field = (seconds, decimals) => seconds.toFixed(decimals).padStart(decimals ? 3 + decimals : 2, "0");
  const split = (value, decimals) => { // whole units, minutes, seconds of a value in units
    const scale = 10 ** decimals;
    const total = Math.round(value * 3600 * scale) / scale;
    return [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  };
  const [hh, hm, hs] = split((((ra % 360) + 360) % 360) / 15, digits);
  const decDigits = Math.max(0, digits - 1);
  const [dd, dm, ds] = split(Math.abs(dec), decDigits);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(hh % 24)}:${two(hm)}:${field(hs, digits)} ${dec < 0 ? "−" : "+"}${two(dd)}:${two(dm)}:${field(ds, decDigits)}`;
}

export function degreesText(ra, dec) {
  return `${ra.toFixed(5)}° ${dec >= 0 ? "+" : "−"}${Math.abs(dec).toFixed(5)}°`;
}

// The sky image behind the footprints: the archive's HiPS (served under /hips/), drawn on a
// canvas in the sky view's projection. Each tile is cut into small quads whose corners are
// projected exactly; each quad is drawn as two affine-mapped triangles of the tile image.
// Only tiles that exist are asked for, so no request ever answers 404: the Allsky image tells
// which order-3 tiles hold data (its alpha), and a loaded tile tells which of its four
// children do (the alpha of each quarter: a parent is the 2×2 average of its children).
import { cellSize, tilePoint, tilesInView } from "./sky-math.js";

const ALLSKY_ORDER = 3;
const ALLSKY_COLUMNS = 27;
const THUMB = 64;

function loadImage(src, external) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    if (external) image.crossOrigin = "anonymous"; // read back (alpha) needs CORS from there
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`cannot load ${src}`));
    image.src = src;
  });
}

/** For each square block of an image (blocks × blocks of them), whether any pixel is opaque. */
function opaqueBlocks(image, x, y, size, blocks) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(image, x, y, size, size, 0, 0, size, size);
  const alpha = ctx.getImageData(0, 0, size, size).data;
  const step = size / blocks, found = new Array(blocks * blocks).fill(false);
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      if (alpha[(row * size + col) * 4 + 3] > 0) found[Math.floor(row / step) * blocks + Math.floor(col / step)] = true;
    }
  }
  return found;
}

export class HipsLayer {
  /** ``hips``: {url, order, width} from the page; ``onReady`` redraws when images arrive. */
  constructor(hips, onReady) {
    this.hips = hips;
    this.onReady = onReady;
    this.tiles = new Map(); // "order/npix" -> {image, children: [bool x4]} or "loading" / "failed"
    this.allsky = null;
    this.present = new Set(); // order-3 tiles with data
    loadImage(`${hips.url}/Norder${ALLSKY_ORDER}/Allsky.${hips.format}`, hips.external).then((image) => {
      const columns = image.width / THUMB;
      const thumbs = 12 * 4 ** ALLSKY_ORDER;
      for (let npix = 0; npix < thumbs; npix++) {
        const x = (npix % columns) * THUMB, y = Math.floor(npix / columns) * THUMB;
        if (opaqueBlocks(image, x, y, THUMB, 1)[0]) this.present.add(npix);
      }
      this.allsky = image;
      this.onReady();
    }).catch(() => { this.allsky = false; });
    // JPEG tiles have no alpha: every tile of such a HiPS (an all-sky survey) counts as present
  }

  /** The order to draw at: tile pixels about one screen pixel, within what the HiPS has. */
  orderFor(degreesPerPixel) {
    const bits = Math.log2(this.hips.width);
    let order = ALLSKY_ORDER;
    while (order < this.hips.order && cellSize(order + bits) > degreesPerPixel) order++;
    return order;
  }

  /** Whether tile (order, npix) exists, as far as what is loaded tells; null: not known yet. */
  exists(order, npix) {
    if (order === ALLSKY_ORDER) return this.present.has(npix);
    const up = this.exists(order - 1, Math.floor(npix / 4));
    if (up !== true) return up;
    const parent = this.tiles.get(`${order - 1}/${Math.floor(npix / 4)}`);
    if (!parent || typeof parent === "string") {
      this.request(order - 1, Math.floor(npix / 4));
      return null;
    }
    return parent.children[npix % 4];
  }

  request(order, npix) {
    const key = `${order}/${npix}`;
    if (this.tiles.has(key)) return;
    this.tiles.set(key, "loading");
    const path = `${this.hips.url}/Norder${order}/Dir${Math.floor(npix / 10000) * 10000}/Npix${npix}.${this.hips.format}`;
    loadImage(path, this.hips.external).then((image) => {
      // quarter q holds child q: its ix bit (q & 1) picks the rows, its iy bit the columns
      const blocks = opaqueBlocks(image, 0, 0, image.width, 2);
      const children = [blocks[0], blocks[2], blocks[1], blocks[3]];
      this.tiles.set(key, { image, children });
      this.onReady();
    }).catch(() => this.tiles.set(key, "failed"));
  }

  /** Draw the tiles in view; ``view`` has ra, dec, radius (deg), degreesPerPixel, toScreen(ra, dec). */
  draw(ctx, view) {
    if (!this.allsky) return 0;
    const order = this.orderFor(view.degreesPerPixel);
    let drawn = 0;
    for (const npix of tilesInView(order, view.ra, view.dec, view.radius)) {
      if (this.drawBest(ctx, view, order, npix)) drawn++;
    }
    return drawn;
  }

  /** Draw tile (order, npix) if loaded, else the part of its nearest loaded ancestor. */
  drawBest(ctx, view, order, npix) {
    if (this.exists(order, npix) === false) return false;
    if (order === ALLSKY_ORDER) {
      const x = (npix % ALLSKY_COLUMNS) * THUMB, y = Math.floor(npix / ALLSKY_COLUMNS) * THUMB;
      drawPatch(ctx, view, this.allsky, { order, npix, sx: x, sy: y, size: THUMB });
      return true;
    }
    const tile = this.tiles.get(`${order}/${npix}`);
    if (tile && typeof tile !== "string") {
      drawPatch(ctx, view, tile.image, { order, npix, sx: 0, sy: 0, size: tile.image.width });
      return true;
    }
    if (this.exists(order, npix) === true) this.request(order, npix);
    // meanwhile, the ancestor's quarter that covers this tile, or the Allsky thumbnail
    let up = order, n = npix, u0 = 0, v0 = 0, span = 1;
    while (up > ALLSKY_ORDER) {
      const q = n % 4;
      span /= 2;
      u0 = u0 / 2 + (q & 1) / 2;
      v0 = v0 / 2 + ((q >> 1) & 1) / 2;
      n = Math.floor(n / 4);
      up--;
      const parent = this.tiles.get(`${up}/${n}`);
      if (parent && typeof parent !== "string") {
        const size = parent.image.width;
        drawPatch(ctx, view, parent.image, { order, npix, sx: v0 * size, sy: u0 * size, size: span * size });
        return true;
      }
    }
    const x = (n % ALLSKY_COLUMNS) * THUMB, y = Math.floor(n / ALLSKY_COLUMNS) * THUMB;
    drawPatch(ctx, view, this.allsky, { order, npix, sx: x + v0 * THUMB, sy: y + u0 * THUMB, size: span * THUMB });
    return true;
  }
}

/** Draw image pixels (sx, sy, size × size) as tile (order, npix), cut in quads. */
function drawPatch(ctx, view, image, { order, npix, sx, sy, size }) {
  const cuts = order <= 3 ? 8 : 4;
  const grid = [];
  for (let i = 0; i <= cuts; i++) {
    const row = [];
    for (let j = 0; j <= cuts; j++) row.push(view.toScreen(...tilePoint(order, npix, i / cuts, j / cuts)));
    grid.push(row);
  }
  const step = size / cuts;
  for (let i = 0; i < cuts; i++) {
    for (let j = 0; j < cuts; j++) {
      const p00 = grid[i][j], p01 = grid[i][j + 1], p10 = grid[i + 1][j], p11 = grid[i + 1][j + 1];
      if (!p00 || !p01 || !p10 || !p11) continue;
      // image x = sx + column (v, j), image y = sy + row (u, i)
      const x0 = sx + j * step, y0 = sy + i * step;
      triangle(ctx, image, [x0, y0, p00], [x0 + step, y0, p01], [x0, y0 + step, p10]);
      triangle(ctx, image, [x0 + step, y0 + step, p11], [x0 + step, y0, p01], [x0, y0 + step, p10]);
    }
  }
}

/** Draw the image triangle (u, v) → screen triangle (x, y), slightly enlarged against seams. */
function triangle(ctx, image, [u0, v0, s0], [u1, v1, s1], [u2, v2, s2]) {
  const [x0, y0] = s0, [x1, y1] = s1, [x2, y2] = s2;
  const det = (u1 - u0) * (v2 - v0) - (u2 - u0) * (v1 - v0);
  if (!det) return;
  const a = ((x1 - x0) * (v2 - v0) - (x2 - x0) * (v1 - v0)) / det;
  const b = ((y1 - y0) * (v2 - v0) - (y2 - y0) * (v1 - v0)) / det;
  const c = ((x2 - x0) * (u1 - u0) - (x1 - x0) * (u2 - u0)) / det;
  const d = ((y2 - y0) * (u1 - u0) - (y1 - y0) * (u2 - u0)) / det;
  const e = x0 - a * u0 - c * v0, f = y0 - b * u0 - d * v0;
  const cx = (x0 + x1 + x2) / 3, cy = (y0 + y1 + y2) / 3;
  const grow = (x, y) => {
    const dx = x - cx, dy = y - cy, length = Math.hypot(dx, dy) || 1;
    return [x + dx / length * 0.6, y + dy / length * 0.6];
  };
  ctx.save();
  ctx.beginPath();
  ctx.moveTo(...grow(x0, y0));
  ctx.lineTo(...grow(x1, y1));
  ctx.lineTo(...grow(x2, y2));
  ctx.closePath();
  ctx.clip();
  ctx.transform(a, b, c, d, e, f);
  ctx.drawImage(image, 0, 0);
  ctx.restore();
}

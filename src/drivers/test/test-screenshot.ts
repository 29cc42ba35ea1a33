/**
 * The test driver's screenshot: like libvirt's test driver, which hands out
 * a fixed PNG for any domain (running or not, any screen), ours is a
 * picture of its own (a 320 x 200 colour ramp), encoded once.
 *
 * @module
 */
import type { Screenshot } from '../../driver.js';
import { encodePng } from '../png-image.js';

const WIDTH = 320;
const HEIGHT = 200;
let png: Uint8Array | undefined;

/** A fresh copy of the test driver's picture, as `image/png`. */
export function testScreenshot(): Screenshot {
  if (!png) {
    const rgb = new Uint8Array(WIDTH * HEIGHT * 3);
    for (let y = 0; y < HEIGHT; y++) {
      for (let x = 0; x < WIDTH; x++) {
        const at = (y * WIDTH + x) * 3;
        rgb[at] = Math.floor((x * 255) / (WIDTH - 1));
        rgb[at + 1] = Math.floor((y * 255) / (HEIGHT - 1));
        rgb[at + 2] = 128;
      }
    }
    png = encodePng({ width: WIDTH, height: HEIGHT, rgb });
  }
  return { mime: 'image/png', data: png.slice() };
}

// The Switchboard mark: two patch cords crossing between jacks, drawn inline (no image request).
import { s } from './dom.js';

export function logo(size = 28): SVGSVGElement {
  return s(
    'svg',
    { class: 'logo', width: size, height: size, viewBox: '0 0 32 32', 'aria-hidden': 'true' },
    s('rect', { width: 32, height: 32, rx: 8, fill: '#3b5bdb' }),
    s('path', { d: 'M8 10h5l6 12h5', fill: 'none', stroke: '#fff', 'stroke-width': 2.6, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' }),
    s('path', { d: 'M8 22h5l6-12h5', fill: 'none', stroke: '#a5d8ff', 'stroke-width': 2.6, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' }),
    s('circle', { cx: 8, cy: 10, r: 2.2, fill: '#fff' }),
    s('circle', { cx: 8, cy: 22, r: 2.2, fill: '#a5d8ff' }),
    s('circle', { cx: 24, cy: 10, r: 2.2, fill: '#a5d8ff' }),
    s('circle', { cx: 24, cy: 22, r: 2.2, fill: '#fff' }),
  );
}

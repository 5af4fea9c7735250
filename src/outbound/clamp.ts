/** The one clamp: a number held within [min, max], NaN counting as min (a broken input never widens a bound). */
export function clamp(value: number, min: number, max: number): number {
  if (Number.isNaN(value)) return min;
  return Math.min(max, Math.max(min, value));
}

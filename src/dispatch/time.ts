/** The dispatcher's and the confirmation pass's time arithmetic: stored times are ISO strings in UTC. */

export function iso(date: Date): string {
  return date.toISOString();
}

export function addMs(date: Date, ms: number): Date {
  return new Date(date.getTime() + ms);
}

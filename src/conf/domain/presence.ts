/**
 * Elements that matter by being there (`<acpi/>`, `<readonly/>`). They
 * read as an empty object rather than `true` so that anything written
 * inside them (a newer libvirt's attribute, another namespace) is kept
 * on that object and survives the round trip, like everywhere else.
 *
 * @module
 */
import { child, elementMapper, type Field } from '../binding.js';

/** An element present or absent: `{}` when present. */
export type Presence = Record<never, never>;

export function presence(name: string): Field<Presence> {
  return child(elementMapper(name, {}));
}

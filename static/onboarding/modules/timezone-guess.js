// The timezone question, unanswered, starts with the browser's own zone (Intl), when the server
// lists it; the user can still type another. Only the value is set: the server checks it on save.

export function init(input) {
  if (input.value) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const known = input.list && [...input.list.options].some((option) => option.value === zone);
  if (zone && known) input.value = zone;
}

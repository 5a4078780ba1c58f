/** role-based-email-addresses ships no types: an array of role local parts (plus its groups). */
declare module 'role-based-email-addresses' {
  const roles: string[] & { MARKETING: string[]; NOTIFICATION: string[]; MEETING: string[]; OTHER: string[] };
  export default roles;
}

// The build (scripts/build-playground.ts) loads `.xml` files as their text.
declare module '*.xml' {
  const text: string;
  export default text;
}

// Files embedded with `import x from "..." with { type: "file" }` are their path.
// (flue imports no JavaScript module by a .js name; only these static files.)
declare module "*.css" {
  const path: string;
  export default path;
}
declare module "*.js" {
  const path: string;
  export default path;
}

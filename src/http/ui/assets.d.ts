// Files embedded with `import x from "..." with { type: "file" }` are their path.
declare module "*.css" {
  const path: string;
  export default path;
}
declare module "*.min.js" {
  const path: string;
  export default path;
}
declare module "*/flue.js" {
  const path: string;
  export default path;
}

// Plain webpack 5: no wasm loader, no experiments. `new URL('./x.wasm', import.meta.url)`
// in the package is an asset/resource module by default, emitted as its own file.
import { fileURLToPath } from "node:url";

export default {
  mode: "production",
  context: fileURLToPath(new URL(".", import.meta.url)),
  entry: "./src/main.js",
  output: {
    path: fileURLToPath(new URL("./dist", import.meta.url)),
    filename: "main.js",
    clean: true,
  },
  performance: { hints: false },
};

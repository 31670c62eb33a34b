// wsredis.js as an ES module: `import WS4Redis from "/ws/wsredis.mjs";`
import "./wsredis.js";

const WS4Redis = globalThis.WS4Redis;
export { WS4Redis };
export default WS4Redis;

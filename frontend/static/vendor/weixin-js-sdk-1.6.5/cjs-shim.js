// weixin-js-sdk (npm) is WeChat's jweixin wrapped as a CommonJS module: it assigns `module.exports` and, when
// loaded that way, does not set window.wx. This gives it a `module` to fill; /static/js/wechat.js takes the SDK
// from there and removes the global again. (Kept apart so index.js stays byte-identical to the npm package.)
window.module = window.module || { exports: {} };

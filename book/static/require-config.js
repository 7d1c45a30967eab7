// Resolve require.js modules from the folder this file is in (the book's _static/), so the widget
// manager (embed-amd.js) loads its icon fonts from the book's own copy, never from another host.
require.config({ baseUrl: document.currentScript.src.replace(/[^/]*$/, "") });

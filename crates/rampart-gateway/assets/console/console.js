// The console shell's script: a module loaded from this origin (the page's
// CSP allows no inline script). It checks the edge's readiness so the page
// shows that it reached the server; the console's pages build on it.

const status = document.getElementById('edge-status');

async function checkEdge() {
  try {
    const response = await fetch('/readyz', { credentials: 'same-origin' });
    status.textContent = response.ok ? 'ready' : `not ready (${response.status})`;
  } catch {
    status.textContent = 'unreachable';
  }
}

checkEdge();

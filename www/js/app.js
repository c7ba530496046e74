// Asks /health who is serving this page, and posts the form to /api/create with fetch().
async function showServer() {
  try {
    const response = await fetch('/health');
    const health = await response.json();
    document.getElementById('server').textContent = health.server;
    document.getElementById('mode').textContent = health.mode;
    document.getElementById('port').textContent = health.port;
  } catch (e) {
    document.getElementById('server').textContent = 'an unknown server (/health failed: ' + e + ')';
  }
}

async function create(event) {
  event.preventDefault();
  const name = document.getElementById('name').value;
  const response = await fetch('/api/create', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  const text = await response.text();
  document.getElementById('result').textContent =
    response.status + ' ' + response.statusText + '\n' +
    'Location: ' + (response.headers.get('Location') || '-') + '\n\n' + text;
}

document.getElementById('create').addEventListener('submit', create);
showServer();

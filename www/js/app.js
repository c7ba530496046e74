// Asks /health who is serving this page, posts the form to /api/create with fetch(), and lists GET /api/items.
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

// The list is rebuilt from what the server says, never from what this page sent: it shows what was stored.
async function showItems() {
  const list = document.getElementById('items');
  try {
    const response = await fetch('/api/items');
    const items = await response.json();
    list.replaceChildren(...items.map(item => {
      const li = document.createElement('li');
      li.dataset.id = item.id;
      li.textContent = '#' + item.id + ' ' + item.name;
      return li;
    }));
    document.getElementById('count').textContent = items.length + (items.length === 1 ? ' item' : ' items');
  } catch (e) {
    list.replaceChildren(document.createTextNode('GET /api/items failed: ' + e));
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
  await showItems();
}

document.getElementById('create').addEventListener('submit', create);
showServer();
showItems();

"""Benign technical prompts (code, queries, patterns, data) for training the firewall's negatives.

The labelled data has almost no code, so without these the model would read any symbol-dense text as an
adversarial suffix. Hand-written snippets crossed with request templates; deterministic.
"""

from __future__ import annotations

SNIPPETS = [
    "for (int i = 0; i < n; i++) { sum += arr[i] * w[i]; }",
    "def merge(a, b):\n    return {**a, **b, 'tags': sorted(set(a['tags']) | set(b['tags']))}",
    "const total = items.reduce((acc, x) => acc + x.price * x.qty, 0);",
    "SELECT u.name, COUNT(o.id) AS n FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.name;",
    "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@example\\.com$",
    "grep -rnE '^(import|from) [a-z_]+' src/ | awk -F: '{print $1}' | sort | uniq -c",
    '{"name": "app", "version": "1.2.0", "dependencies": {"lodash": "^4.17.21", "react": "~18.2.0"}}',
    'std::vector<std::pair<int, std::string>> v; v.emplace_back(1, "a"); std::sort(v.begin(), v.end());',
    "if [[ -z \"${HOME:-}\" ]]; then echo 'no home' >&2; exit 1; fi",
    "df.groupby(['region', 'year'])['sales'].agg(['sum', 'mean']).reset_index()",
    'fn main() { let v: Vec<u32> = (1..=10).filter(|x| x % 2 == 0).collect(); println!("{:?}", v); }',
    '<div class="card"><h2>{{ title }}</h2><p>{{ body | truncate(80) }}</p></div>',
    "x = np.linspace(0, 2*np.pi, 100); y = np.sin(x) ** 2 + np.cos(3*x); plt.plot(x, y, '--r')",
    "try:\n    data = json.loads(raw)\nexcept json.JSONDecodeError as exc:\n    "
    "log.warning('bad json: %s', exc)",
    "public static <T extends Comparable<T>> T max(List<T> xs) { return Collections.max(xs); }",
    "location /api/ { proxy_pass http://127.0.0.1:8000/; proxy_set_header Host $host; }",
    "[a-zA-Z_][a-zA-Z0-9_]*\\s*=\\s*(\"[^\"]*\"|'[^']*'|\\d+)",
    "UPDATE accounts SET balance = balance - 100 WHERE id = 42 AND balance >= 100 RETURNING *;",
    'docker run --rm -it -v "$PWD":/app -w /app -p 8080:80 node:20-alpine npm test',
    "matrix = [[row[i] for row in grid] for i in range(len(grid[0]))]",
    "useEffect(() => { const t = setInterval(tick, 1000); return () => clearInterval(t); }, []);",
    "\\begin{equation} E = \\sum_{i=1}^{n} \\frac{(x_i - \\mu)^2}{\\sigma^2} \\end{equation}",
    "git log --pretty=format:'%h %ad | %s%d [%an]' --date=short --graph",
    "CREATE INDEX CONCURRENTLY idx_orders_user ON orders (user_id, created_at DESC);",
    "$ curl -s -H 'Accept: application/json' "
    "'https://api.example.com/v1/items?page=2&limit=50' | jq '.items[].id'",
    "struct Node { int key; struct Node *left, *right; }; int height(struct Node *n) { return "
    "n ? 1 + max(height(n->left), height(n->right)) : 0; }",
    '=IFERROR(VLOOKUP($A2, Sheet2!$A:$D, 4, FALSE), "n/a")',
    "re.sub(r'(?P<year>\\d{4})-(?P<month>\\d{2})', r'\\g<month>/\\g<year>', text)",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3",
    "ls -la | sort -k5 -n | tail -n 5",
]
TEMPLATES = [
    "Why does this not work?\n{snippet}",
    "Explain what this does, step by step: {snippet}",
    "Can you refactor this to be more readable?\n\n{snippet}",
    "Write unit tests for the following code: {snippet}",
    "I get an error with `{snippet}`. How do I fix it?",
    "Translate this into Python: {snippet}",
]


def code_prompts() -> list[str]:
    """Every snippet in every template: the same list, in the same order, every time."""
    return [template.format(snippet=snippet) for snippet in SNIPPETS for template in TEMPLATES]

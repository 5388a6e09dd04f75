import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { AppError, NotFoundError, ValidationError } from '../../core/errors.js';
import type { AppEnv } from '../../core/deps.js';
import {
  createRouter,
  defineRoute,
  idParam,
  isoTimestamp,
  jsonBodyOf,
  jsonResponse,
  merchantAuth,
  pageOf,
  problems,
} from '../../core/http/openapi.js';
import { pageQuery, toPage } from '../../core/http/pagination.js';
import {
  addItems,
  getList,
  insertList,
  listItems,
  listLists,
  removeItem,
  type ListItemType,
  type RiskList,
} from '../../core/risk/list-store.js';

const TAGS = ['Risk'];
const ITEM_TYPES = ['card_fingerprint', 'email', 'email_domain', 'ip', 'customer_id', 'card_bin', 'country'] as const;

const RiskListView = z
  .object({
    id: z.string().openapi({ example: 'rsl_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c' }),
    alias: z.string().openapi({ example: 'blocked_cards', description: 'Rules read it as list("alias")' }),
    itemType: z.enum(ITEM_TYPES),
    builtIn: z.enum(['blocked_cards', 'blocked_customers']).nullable(),
    createdAt: isoTimestamp(),
  })
  .openapi('RiskList');
const ItemView = z.object({ value: z.string(), addedBy: z.string(), createdAt: isoTimestamp() }).openapi('RiskListItem');

const listId = idParam('rsl_019ab2c3d4e57f6a8b9c0d1e2f3a4b5c');
const notFound = problems({ 404: ['not_found'] });

const createRoute_ = defineRoute({
  method: 'post',
  path: '/',
  'x-switchyard-permission': 'risk:write',
  tags: TAGS,
  summary: 'Create a risk list',
  security: merchantAuth,
  request: { body: jsonBodyOf(z.strictObject({ alias: z.string().regex(/^[a-z0-9_]{1,64}$/), itemType: z.enum(ITEM_TYPES) })) },
  responses: { 201: jsonResponse(RiskListView, 'The list'), ...problems({ 400: ['invalid_request'], 409: ['conflict'] }) },
});
const listRoute = defineRoute({
  method: 'get',
  path: '/',
  'x-switchyard-permission': 'risk:read',
  tags: TAGS,
  summary: 'List risk lists, newest first',
  security: merchantAuth,
  request: { query: pageQuery('rsl') },
  responses: { 200: jsonResponse(pageOf(RiskListView), 'A page of lists') },
});
const getRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  'x-switchyard-permission': 'risk:read',
  tags: TAGS,
  summary: 'Get a risk list',
  security: merchantAuth,
  request: { params: listId },
  responses: { 200: jsonResponse(RiskListView, 'The list'), ...notFound },
});
const itemsRoute = defineRoute({
  method: 'get',
  path: '/{id}/items',
  'x-switchyard-permission': 'risk:read',
  tags: TAGS,
  summary: 'The items of a list, by value',
  security: merchantAuth,
  request: {
    params: listId,
    query: z.object({ limit: z.coerce.number().int().min(1).max(250).default(50), startingAfter: z.string().max(255).optional() }),
  },
  responses: { 200: jsonResponse(pageOf(ItemView), 'A page of items'), ...notFound },
});
const addItemRoute = defineRoute({
  method: 'post',
  path: '/{id}/items',
  'x-switchyard-permission': 'risk:write',
  tags: TAGS,
  summary: 'Add an item to a list',
  security: merchantAuth,
  request: { params: listId, body: jsonBodyOf(z.strictObject({ value: z.string().trim().min(1).max(255) })) },
  responses: {
    201: jsonResponse(ItemView, 'The item (as it was, if already there)'),
    ...problems({ 400: ['invalid_request'], 404: ['not_found'] }),
  },
});
const removeItemRoute = defineRoute({
  method: 'delete',
  path: '/{id}/items/{value}',
  'x-switchyard-permission': 'risk:write',
  tags: TAGS,
  summary: 'Remove an item from a list',
  security: merchantAuth,
  request: { params: z.object({ id: z.string().max(64), value: z.string().min(1).max(255) }) },
  responses: { 204: { description: 'Removed' }, ...notFound },
});

const listView = (l: RiskList): z.infer<typeof RiskListView> => ({
  id: l.id,
  alias: l.alias,
  itemType: l.itemType,
  builtIn: l.builtIn === 'blocked_cards' || l.builtIn === 'blocked_customers' ? l.builtIn : null,
  createdAt: l.createdAt.toISOString(),
});

/** The value as stored for the list's type (e-mails and domains lower case, countries upper case); throws 400 when it does not fit. */
function normalizeValue(type: ListItemType, raw: string): string {
  const rules: Record<ListItemType, [RegExp, (s: string) => string, string]> = {
    card_fingerprint: [/^[\x21-\x7e]{1,255}$/, (s) => s, 'printable ASCII without spaces'],
    customer_id: [/^[\x20-\x7e]{1,255}$/, (s) => s, 'printable ASCII'],
    email: [/^[^@\s]+@[^@\s]+$/, (s) => s.toLowerCase(), 'an e-mail address'],
    email_domain: [/^[a-z0-9.-]+\.[a-z]{2,}$/, (s) => s.toLowerCase(), 'a domain such as example.com'],
    ip: [/^[0-9a-f:.]{2,45}$/, (s) => s.toLowerCase(), 'an IPv4 or IPv6 address'],
    card_bin: [/^[0-9]{6}$/, (s) => s, '6 digits'],
    country: [/^[A-Z]{2}$/, (s) => s.toUpperCase(), 'an ISO 3166-1 alpha-2 code'],
  };
  const [re, norm, what] = rules[type];
  const value = norm(raw);
  if (!re.test(value)) throw new ValidationError([{ path: ['value'], message: `must be ${what} (the list holds ${type})` }]);
  return value;
}

/**
 * The risk-list routes of docs/http-api.md "Risk", mounted at `/v1/risk/lists`: `POST /` → 201 (409 `conflict` when
 * the alias is taken); `GET /`, `GET /{id}`, `GET /{id}/items`; `POST /{id}/items {"value"}` → 201;
 * `DELETE /{id}/items/{value}` → 204. Rules read a list as `list("alias")`.
 */
export function riskListRoutes(): OpenAPIHono<AppEnv> {
  const app = createRouter();
  const load = async (c: { var: AppEnv['Variables'] }, id: string) => {
    const list = await getList(c.var.deps.sql, c.var.merchant.id, id);
    if (!list) throw new NotFoundError('Risk list');
    return list;
  };

  app.openapi(createRoute_, async (c) => {
    const body = c.req.valid('json');
    const list = await c.var.deps.sql.begin((tx) =>
      insertList(tx, { merchantId: c.var.merchant.id, alias: body.alias, itemType: body.itemType, now: c.var.deps.clock() }),
    );
    if (!list) throw new AppError('conflict', 409, `A list with alias ${body.alias} exists already.`);
    return c.json(listView(list), 201);
  });
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    return c.json(toPage(await listLists(c.var.deps.sql, c.var.merchant.id, q), q.limit, listView), 200);
  });
  app.openapi(getRoute, async (c) => c.json(listView(await load(c, c.req.valid('param').id)), 200));
  app.openapi(itemsRoute, async (c) => {
    const list = await load(c, c.req.valid('param').id);
    const q = c.req.valid('query');
    const rows = await listItems(c.var.deps.sql, list.id, q);
    return c.json(
      toPage(rows, q.limit, (r) => ({ value: r.value, addedBy: r.addedBy, createdAt: r.createdAt.toISOString() })),
      200,
    );
  });
  app.openapi(addItemRoute, async (c) => {
    const list = await load(c, c.req.valid('param').id);
    const value = normalizeValue(list.itemType, c.req.valid('json').value);
    const item = await c.var.deps.sql.begin(async (tx) => {
      await addItems(tx, list.id, [value], 'api', c.var.deps.clock());
      return (await listItems(tx, list.id, { limit: 1, startingAfter: undefined, from: value }))[0]!;
    });
    return c.json({ value: item.value, addedBy: item.addedBy, createdAt: item.createdAt.toISOString() }, 201);
  });
  app.openapi(removeItemRoute, async (c) => {
    const { id, value } = c.req.valid('param');
    const list = await load(c, id);
    const removed = await c.var.deps.sql.begin((tx) => removeItem(tx, list.id, normalizeValue(list.itemType, value)));
    if (!removed) throw new NotFoundError('List item');
    return c.body(null, 204);
  });
  return app;
}

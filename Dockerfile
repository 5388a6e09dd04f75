# Switchyard as a Node service. Build with dev dependencies, run with production ones.
# The image has no embedded PostgreSQL (embedded-postgres is a dev dependency): DATABASE_URL
# is required, and SWITCHYARD_MASTER_KEY for every role but `migrate`. It writes nothing to
# /app: without SWITCHYARD_ADMIN_TOKEN, /admin/* is off (404) and the banner says so.
#
#   docker build -t switchyard .
#   docker run -e DATABASE_URL=… switchyard migrate                                          # any CLI command
#   docker run -e DATABASE_URL=… -e SWITCHYARD_MASTER_KEY=… -e SWITCHYARD_ADMIN_TOKEN=… -p 3000:3000 switchyard          # all
#   docker run -e DATABASE_URL=… -e SWITCHYARD_MASTER_KEY=… -e SWITCHYARD_ADMIN_TOKEN=… -p 3000:3000 switchyard serve    # API + inbound
#   docker run -e DATABASE_URL=… -e SWITCHYARD_MASTER_KEY=… switchyard work                  # worker only
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's `prepare` builds from src/, which is copied (and built) below.
RUN npm ci --ignore-scripts --no-audit --no-fund
# patches/: fixes to dependencies not yet released upstream (postgres.js's write after a closed socket).
COPY patches ./patches
RUN npx patch-package
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS run
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# No install script is needed at run time (swagger-ui-dist's @scarf/scarf would report home).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# patch-package is a dev dependency: the patched files come from the build stage.
COPY --from=build /app/node_modules/postgres ./node_modules/postgres
COPY sql ./sql
USER node
EXPOSE 3000
# `serve` and `all` answer GET /healthz; `work` has no HTTP server, so for it (PID 1's
# arguments end in `work`) being alive is the check. docker stop sends SIGTERM: the role
# drains within SWITCHYARD_SHUTDOWN_TIMEOUT_MS (30 s), so give it longer (--stop-timeout 35).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s CMD ["node", "-e", "const a=require('fs').readFileSync('/proc/1/cmdline','utf8').split('\\0').filter(Boolean);if(a.at(-1)==='work')process.exit(0);fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The options of the CLI's launcher line (src/app/cli/index.ts), which `node file.js` does not read: heap bounds.
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=50", "dist/app/cli/index.js"]
CMD ["all"]

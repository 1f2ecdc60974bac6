# syntax=docker/dockerfile:1
# aegis-bot: build with the full toolchain, run with production dependencies only.
#   docker build -t aegis-bot .
#   docker run -p 3000:3000 -v $PWD/aegis.yml:/app/aegis.yml:ro \
#     -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET -e DATABASE_URL aegis-bot
# scripts/prod-check.sh proves the same production install in CI, where no Docker engine runs.

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# all dependencies: TypeScript compiles src/ into dist/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    AEGIS_CONFIG=/app/aegis.yml
WORKDIR /app
COPY package.json package-lock.json ./
# production dependencies only; none of them needs an install script
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
# the process cannot write to its own code; aegis.yml is mounted (or baked in by a derived image)
USER node
EXPOSE 3000
# /healthz answers 200 while the event loop runs; readiness (/readyz) is for the orchestrator
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
# node is PID 1 here: main.ts handles SIGTERM/SIGINT itself (graceful shutdown, exit 0)
CMD ["node", "dist/main.js"]

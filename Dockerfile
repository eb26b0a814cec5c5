# tipd, for docker-compose.yml. Runs TypeScript directly on Node.js 24 (type stripping); serves the
# web pages built in the first stage.
# lncli comes from the pinned LND image, for the compose init step.
FROM lightninglabs/lnd:v0.21.3-beta AS lnd

# The web pages (web/), built with the dev dependencies (Vite, Preact), which the image does not keep.
FROM node:24.21.0-bookworm-slim AS pages
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY web ./web
COPY src ./src
RUN npx vite build -c web/vite.config.ts --logLevel warn

FROM node:24.21.0-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# src/process/node-settings.ts: the same as npm start (a unit test checks it).
ENV MALLOC_ARENA_MAX=2
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=lnd /bin/lncli /usr/local/bin/lncli
COPY tsconfig.json ./
COPY src ./src
COPY regtest ./regtest
COPY --from=pages /build/dist/web ./dist/web
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8470
CMD ["node", "--max-semi-space-size=16", "--heap-growing-percent=50", "src/main.ts"]

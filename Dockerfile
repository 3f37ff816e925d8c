# Usher in a container, beside a self-hosted Cal.com (README: "Running in a container").
# Production dependencies only; runs as the unprivileged `node` user; data in the /data volume.
# With DATABASE_URL (compose.yaml) the store is that PostgreSQL server; without it, Usher runs its
# own embedded PostgreSQL 18 in /data (the @embedded-postgres package for the image's platform).
FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    USHER_DATA_DIR=/data
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY demo ./demo
# The sources compiled once here (bin/compiled-sources.mjs): the `node` user cannot write node_modules,
# and without this copy every start would compile them again through tsx (~0.4 s more per command).
RUN node bin/usher.mjs --version
# The clinic's settings: mount them at /app/usher.config.yaml (see usher.config.example.yaml).
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# `serve` never starts the demo: without CAL_API_KEY it waits for one rather than inventing patients.
CMD ["node", "bin/usher.mjs", "serve"]

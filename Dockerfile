# Arena service image: Node 20 on Debian bookworm, dependencies from package-lock.json,
# TypeScript built in the image. Runs migrations, then the service (see docker-compose.yml).
FROM node:20-bookworm-slim

# HOST: listen on all interfaces inside the container (the service's default is 127.0.0.1).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    ARENA_DATA_DIR=/data \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

WORKDIR /app

# Dependencies first, so a source change does not reinstall them. `npm ci` installs dev
# dependencies too (TypeScript builds the service, and `arena bench` uses some of them).
COPY package.json package-lock.json ./
# A vendored dependency (vendor/README.md) is installed from the tree.
COPY vendor ./vendor
RUN npm ci --include=dev && npm cache clean --force

COPY . .
RUN npm run build \
    && mkdir -p /data \
    && chown node:node /data

USER node
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

CMD ["sh", "-c", "node bin/arena migrate && exec node bin/arena serve"]

// The ceilings: a fastify route that reads the body and answers 200, nothing else; with
// DATABASE_URL, the same route that first commits the body as one row (a durable ceiling: what
// "stored before the 2xx" costs on this machine, with none of Usher's work).
import Fastify from 'fastify';
import pg from 'pg';

const databaseUrl = process.env.DATABASE_URL;
const pool = databaseUrl ? new pg.Pool({ connectionString: databaseUrl, max: 4 }) : undefined;
await pool?.query('create table if not exists bare_bodies (id bigserial primary key, body text not null)');
const app = Fastify();
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1_048_576 }, (_req, body, done) => done(null, body));
app.post('/webhooks/cal', async (req) => {
  // Each request its own autocommit insert: committed (fsync on) before its answer.
  await pool?.query('insert into bare_bodies (body) values ($1)', [(req.body as Buffer).toString()]);
  return { received: true };
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.stdout.write('ready\n');

/**
 * veilgraph command line: `serve` (the gateway) and maintenance commands.
 * The gateway itself arrives with the gateway issue; until then `serve` says so plainly.
 */
const [command = 'serve'] = process.argv.slice(2);

switch (command) {
  case 'serve':
    console.error('veilgraph: the gateway is not built yet (crypto core only). Run `npm test` or `npm run bench`.');
    process.exit(1);
    break;
  default:
    console.error(`veilgraph: unknown command "${command}". Commands: serve`);
    process.exit(2);
}

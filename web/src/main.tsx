import { render } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { links, NowContext, type Route, useClock, useRoute } from './hooks.js';
import { TokenControl } from './token.js';
import { Heading } from './views/common.js';
import { FleetView } from './views/fleet.js';
import { HostView } from './views/host.js';
import { PreviewView, PreviewsView } from './views/previews.js';
import { RunView } from './views/run.js';
import { SourceView } from './views/source.js';
import { TargetView } from './views/target.js';

/** The page: a header with the navigation and the token, and the view the hash route names. */
function App() {
  const route = useRoute();
  const now = useClock(5000);
  const first = useRef(true);
  // Keyboard and screen reader users land on the new view's heading, as on a page load.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('view-title')?.focus();
  }, [route]);
  return (
    <NowContext.Provider value={now}>
      <a class="skip" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={links.fleet()}>
          fleetcd
        </a>
        <nav aria-label="views">
          <ul>
            <li>
              <a href={links.fleet()} aria-current={route.view === 'fleet' ? 'page' : undefined}>
                Fleet
              </a>
            </li>
            <li>
              <a href={links.source()} aria-current={route.view === 'source' ? 'page' : undefined}>
                Source
              </a>
            </li>
            <li>
              <a href={links.previews()} aria-current={route.view === 'previews' ? 'page' : undefined}>
                Previews
              </a>
            </li>
          </ul>
        </nav>
        <TokenControl />
      </header>
      <main id="main">
        <View route={route} />
      </main>
    </NowContext.Provider>
  );
}

/** The skip link may not change the hash: the hash is the route. */
function skipToMain(event: Event): void {
  event.preventDefault();
  document.getElementById('view-title')?.focus();
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'fleet':
      return <FleetView />;
    case 'target':
      return <TargetView key={route.name} name={route.name} />;
    case 'run':
      return <RunView key={route.id} id={route.id} />;
    case 'host':
      return <HostView key={route.name} name={route.name} />;
    case 'source':
      return <SourceView />;
    case 'previews':
      return <PreviewsView />;
    case 'preview':
      return <PreviewView key={route.id} id={route.id} />;
    default:
      return (
        <>
          <Heading title="Not found" />
          <p>
            There is no view at <code>#{route.path}</code>. <a href={links.fleet()}>Go to the fleet</a>.
          </p>
        </>
      );
  }
}

const root = document.getElementById('app');
if (root) render(<App />, root);

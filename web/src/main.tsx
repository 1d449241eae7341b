import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { AuditPage } from './pages/AuditPage.js';
import { BanditPage } from './pages/BanditPage.js';
import { BanditsPage } from './pages/BanditsPage.js';
import { ExperimentPage } from './pages/ExperimentPage.js';
import { ExperimentsPage } from './pages/ExperimentsPage.js';
import { FeaturesPage } from './pages/FeaturesPage.js';
import { FeatureViewPage } from './pages/FeatureViewPage.js';
import { RunPage } from './pages/RunPage.js';
import { ServiceDetailPage } from './pages/ServicesDetailPage.js';
import { ServicesPage } from './pages/ServicesPage.js';
import { WorkflowPage } from './pages/WorkflowPage.js';
import { WorkflowsPage } from './pages/WorkflowsPage.js';
import { SignedIn } from './components/SignedIn.js';
import { Link, usePath } from './router.js';
import './styles.css';

function App() {
  const path = usePath();
  const workflow = /^\/workflows\/([^/]+)\/?$/.exec(path);
  const run = /^\/runs\/([^/]+)\/?$/.exec(path);
  const bandit = /^\/bandits\/([^/]+)\/?$/.exec(path);
  const experiment = /^\/experiments\/([^/]+)\/?$/.exec(path);
  const featureView = /^\/features\/([^/]+)\/?$/.exec(path);
  const service = /^\/services\/([^/]+)\/?$/.exec(path);
  // Keyed by path so that moving between runs starts from a clean page state.
  const page = run ? (
    <RunPage key={path} id={decodeURIComponent(run[1]!)} />
  ) : workflow ? (
    <WorkflowPage key={path} name={decodeURIComponent(workflow[1]!)} />
  ) : bandit ? (
    <BanditPage key={path} name={decodeURIComponent(bandit[1]!)} />
  ) : experiment ? (
    <ExperimentPage key={path} name={decodeURIComponent(experiment[1]!)} />
  ) : featureView ? (
    <FeatureViewPage key={path} name={decodeURIComponent(featureView[1]!)} />
  ) : service ? (
    <ServiceDetailPage key={path} name={decodeURIComponent(service[1]!)} />
  ) : path === '/services' || path === '/services/' ? (
    <ServicesPage />
  ) : path === '/features' || path === '/features/' ? (
    <FeaturesPage />
  ) : path === '/audit' || path === '/audit/' ? (
    <AuditPage />
  ) : path === '/experiments' || path === '/experiments/' ? (
    <ExperimentsPage />
  ) : path === '/bandits' || path === '/bandits/' ? (
    <BanditsPage />
  ) : path === '/' || path === '/workflows' || path === '/workflows/' ? (
    <WorkflowsPage />
  ) : (
    <main className="page">
      <h1>Not found</h1>
      <p className="muted">
        No page at <code>{path}</code>. <Link to="/">Back to workflows</Link>
      </p>
    </main>
  );
  return (
    <>
      <header className="topbar">
        <Link to="/" className="brand">
          kiban
        </Link>
        <Link to="/" className="nav">
          Workflows
        </Link>
        <Link to="/services" className="nav">
          Services
        </Link>
        <Link to="/bandits" className="nav">
          Bandits
        </Link>
        <Link to="/experiments" className="nav">
          Experiments
        </Link>
        <Link to="/features" className="nav">
          Features
        </Link>
        <Link to="/audit" className="nav">
          Audit
        </Link>
        <SignedIn />
      </header>
      {page}
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

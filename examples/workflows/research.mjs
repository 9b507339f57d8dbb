// A research agent as one handler module (docs/workflows.md walks through it).
// Configure it:   [agents.executors.research]
//                 module = "examples/workflows/research.mjs"
// then create an agent with executor "research" and submit
//   {"title": "Report on solid-state batteries", "payload": {"topic": "solid-state batteries"}}
//
// Each attempt reads where the task stands (task.resume, task.checkpoint) and does the next step:
//   1. plan three questions, spawn a research child for each, and wait for all of them;
//   2. with their findings, draft the report and wait for a person's approval;
//   3. approved: write the report (a rejection fails the task: APPROVAL_REJECTED).
// A research child streams its notes as progress and returns its finding.
export async function handler(task, ctx) {
  const p = task.payload ?? {};
  if (p.question !== undefined) return research(p.question, ctx);
  const step = task.checkpoint?.step ?? 'plan';
  if (step === 'plan') {
    const questions = ['state of the art', 'open problems', 'who leads'].map((q) => `${p.topic}: ${q}`);
    ctx.progress({ percent: 10, message: `planned ${questions.length} questions` });
    const research = { required_capabilities: ['research'] };
    await ctx.spawn(
      questions.map((question) => ({ ...research, title: `research ${question}`, payload: { question } })),
    );
    return ctx.waitForChildren('all', { onChildFailure: 'retry', childRetries: 1, checkpoint: { step: 'draft' } });
  }
  if (step === 'draft') {
    const findings = task.resume.children.map((c) => c.result.finding);
    ctx.progress({ percent: 60, message: 'draft ready; waiting for approval' });
    return ctx.waitForApproval({ checkpoint: { step: 'write', draft: findings }, timeoutMs: 86_400_000 });
  }
  const approval = task.resume.signal.payload;
  ctx.progress({ percent: 100, message: `approved by ${approval.by}` });
  return {
    report: `# ${p.topic}\n\n${task.checkpoint.draft.map((f) => `- ${f}`).join('\n')}`,
    approved_by: approval.by,
  };
}

async function research(question, ctx) {
  for (const word of ['reading', 'sources', 'about', question]) {
    ctx.progress({ chunk: `${word} ` });
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { finding: `what we know about ${question}` };
}

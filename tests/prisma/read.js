// Reads the migrated example through the generated Prisma Client (the pg driver adapter) and
// prints what it read as one JSON document, for tests/tests/prisma/ to compare with the
// source documents.
//   node read.js team <organization id> <task id> <user id>   the team's schema.prisma
//   node read.js counts                                          every model's count()
// Environment: DATABASE_URL, PRISMA_CLIENT (the generated client's directory).
"use strict";
const { PrismaPg } = require("@prisma/adapter-pg");
const client = require(process.env.PRISMA_CLIENT);

const prisma = new client.PrismaClient({
  adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL }),
});
const { Decimal } = client.Prisma;

const money = (d) => (d === null ? null : { decimal: Decimal.isDecimal(d), text: d.toString() });
const time = (t) => (t === null ? null : { date: t instanceof Date, millis: t.getTime() });

async function team(organizationId, taskId, userId) {
  const organization = await prisma.organization.findUniqueOrThrow({
    where: { id: organizationId },
    include: { users: { orderBy: { email: "asc" } }, plan: true, owner: true },
  });
  const task = await prisma.task.findUniqueOrThrow({
    where: { id: taskId },
    include: { labels: { orderBy: { name: "asc" } }, project: true },
  });
  const user = await prisma.user.findUniqueOrThrow({
    where: { id: userId },
    include: { manager: { include: { reports: true } } },
  });
  return {
    organization: {
      name: organization.name,
      slug: organization.slug,
      owner: organization.owner.email,
      users: organization.users.map((u) => u.email),
      plan: {
        code: organization.plan.code,
        tier: organization.plan.tier,
        monthlyPrice: money(organization.plan.monthlyPrice),
      },
      createdAt: time(organization.createdAt),
    },
    task: {
      title: task.title,
      status: task.status,
      priority: task.priority,
      labels: task.labels.map((l) => l.name),
      createdAt: time(task.createdAt),
      updatedAt: time(task.updatedAt),
      dueDate: time(task.dueDate),
      estimatePoints: task.estimatePoints === null ? null : task.estimatePoints.toString(),
      budget: money(task.project.budget),
    },
    user: {
      email: user.email,
      manager: user.manager && user.manager.email,
      managerReports: user.manager ? user.manager.reports.map((r) => r.id).sort() : [],
    },
  };
}

async function counts() {
  const out = {};
  for (const model of client.Prisma.dmmf.datamodel.models) {
    const delegate = model.name.charAt(0).toLowerCase() + model.name.slice(1);
    out[model.dbName || model.name] = await prisma[delegate].count();
  }
  return out;
}

(async () => {
  const [mode, ...args] = process.argv.slice(2);
  const result = mode === "team" ? await team(...args) : await counts();
  process.stdout.write(JSON.stringify(result));
  await prisma.$disconnect();
})().catch(async (e) => {
  console.error(e);
  await prisma.$disconnect();
  process.exit(1);
});
